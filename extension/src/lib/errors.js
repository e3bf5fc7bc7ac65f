// Words for the agent's error codes (docs/extension-protocol.md) shown by the options page, popup and panel.
// The codes stay English (they are the protocol); the sentences come from _locales through i18n.

/** agentUrl: the address named by "agent_unreachable" (a generic "the agent" when unknown). */
export function describeError(error, i18n, agentUrl = null) {
  const code = error?.code;
  switch (code) {
    case "agent_unreachable":
      return agentUrl ? i18n.t("error_agent_unreachable_at", agentUrl) : i18n.t("error_agent_unreachable");
    case "wrong_code": {
      const left = error?.details?.tries_left;
      return Number.isFinite(left) ? i18n.plural("error_wrong_code_left", left) : i18n.t("error_wrong_code");
    }
    case "bad_code":
      return i18n.t("error_bad_code", error?.details?.code_length ?? 6);
    case "bad_url":
      return i18n.t("error_bad_url");
    case "pairing_ended":
      return i18n.t("error_pairing_ended");
    case "pairing_expired":
      return i18n.t("error_pairing_expired");
    case "too_many_pairings":
      return i18n.t("error_too_many_pairings");
    case "forbidden_origin":
    case "origin_mismatch":
      return i18n.t("error_origin_refused");
    case "no_desktop":
      return i18n.t("error_no_desktop");
    case "not_paired":
      return i18n.t("error_not_paired");
    case "extension_revoked":
      return i18n.t("error_extension_revoked");
    case "unauthorized":
      return i18n.t("error_unauthorized");
    case "no_answer":
      return i18n.t("error_no_answer");
    default:
      // The agent's own message (English: its API speaks English) beats saying nothing.
      return error?.message || i18n.t("error_generic");
  }
}
