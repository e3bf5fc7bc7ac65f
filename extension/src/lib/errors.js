// Human-readable text for the agent's error codes (docs/extension-protocol.md) shown by the options page and popup.

export function describeError(error, agentUrl = "the agent") {
  const code = error?.code;
  switch (code) {
    case "agent_unreachable":
      return `No agent answers at ${agentUrl}. Is CRM Agent running on this computer?`;
    case "wrong_code": {
      const left = error?.details?.tries_left;
      return Number.isFinite(left) ? `Wrong code: ${left} ${left === 1 ? "try" : "tries"} left.` : "Wrong code.";
    }
    case "pairing_ended":
      return "Too many wrong codes: this pairing ended. Start pairing again.";
    case "pairing_expired":
      return "The code expired (codes last 2 minutes). Start pairing again.";
    case "too_many_pairings":
      return "Too many pairing attempts. Wait a minute and try again.";
    case "forbidden_origin":
    case "origin_mismatch":
      return "The agent refused this browser's origin. Start pairing again from this page.";
    case "no_desktop":
      return "No desktop: the agent runs without a tray window here.";
    case "not_paired":
      return "Pair with the agent first.";
    case "extension_revoked":
      return "This browser was disconnected by the agent. Pair again.";
    case "unauthorized":
      return "The agent no longer knows this browser. Pair again.";
    default:
      return error?.message || "Something went wrong.";
  }
}
