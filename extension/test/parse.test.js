import { test } from "node:test";
import assert from "node:assert/strict";
import {
  buildCapture, eventConcernsChat, jidKind, parseDataId, phoneFromJid, phoneFromTitle, senderFromPrePlainText,
} from "../src/lib/parse.js";

const ENV = { now: 1733400000123, locale: "pt-BR", utcOffsetMin: -180 };

test("parseDataId reads a received phone-chat message", () => {
  assert.deepEqual(parseDataId("false_5511987654321@c.us_3EB0C4A5F2D1B6E7A8C9"), {
    outgoing: false, chatJid: "5511987654321@c.us", msgId: "3EB0C4A5F2D1B6E7A8C9", participant: null, kind: "phone",
  });
});

test("parseDataId reads a sent message in a hidden-phone (@lid) chat", () => {
  const id = parseDataId("true_123456789012345@lid_ABCDEF0123");
  assert.equal(id.outgoing, true);
  assert.equal(id.kind, "lid");
  assert.equal(id.chatJid, "123456789012345@lid");
});

test("parseDataId reads a group message with its participant (phone or lid)", () => {
  const phone = parseDataId("false_120363041234567890@g.us_3EB0AA_5511912345678@c.us");
  assert.equal(phone.kind, "group");
  assert.equal(phone.participant, "5511912345678@c.us");
  const lid = parseDataId("false_120363041234567890@g.us_3EB0AA_98765432109876@lid");
  assert.equal(lid.participant, "98765432109876@lid");
});

test("parseDataId rejects malformed ids", () => {
  for (const bad of [
    undefined, null, 42, "", "true", "maybe_5511@c.us_ABC", "true_5511@s.whatsapp.net_ABC", "true_5511@c.us_",
    "true_5511@c.us_AB-C", "false_5511@c.us_ABC_5522@c.us", "false_1203@g.us_ABC_1203@g.us",
    "false_1203@g.us_ABC_5511@c.us_extra", "false_status@broadcast_ABC",
  ]) {
    assert.equal(parseDataId(bad), null, String(bad));
  }
});

test("jidKind and phone helpers", () => {
  assert.equal(jidKind("5511@c.us"), "phone");
  assert.equal(jidKind("1@lid"), "lid");
  assert.equal(jidKind("1-2@g.us"), "group");
  assert.equal(jidKind("x@broadcast"), null);
  assert.equal(phoneFromJid("5511987654321@c.us"), "+5511987654321");
  assert.equal(phoneFromJid("123@lid"), null);
  assert.equal(phoneFromTitle("+55 11 98765-4321"), "+5511987654321");
  assert.equal(phoneFromTitle("Ana Souza"), null);
  assert.equal(phoneFromTitle("+1 2"), null);
});

test("senderFromPrePlainText takes the name between the bracket and the colon", () => {
  assert.equal(senderFromPrePlainText("[10:32, 05/12/2024] Ana Souza: "), "Ana Souza");
  assert.equal(senderFromPrePlainText("[3:05 PM, 12/5/2024] +55 11 91234-5678: "), "+55 11 91234-5678");
  assert.equal(senderFromPrePlainText("no brackets"), null);
  assert.equal(senderFromPrePlainText(null), null);
});

test("buildCapture: received text in a phone chat", () => {
  const capture = buildCapture({
    dataId: "false_5511987654321@c.us_3EB0AB", text: "Olá, tudo bem?", type: "text",
    prePlainText: "[10:32, 05/12/2024] Ana: ", chatTitle: "Ana",
  }, ENV);
  assert.deepEqual(capture, {
    message_id: "false_5511987654321@c.us_3EB0AB", chat_id: "5511987654321@c.us", content: "Olá, tudo bem?",
    type: "text", direction: "in", timestamp: ENV.now, phone: "+5511987654321", name: "Ana", chat_name: "Ana",
    pre_plain_text: "[10:32, 05/12/2024] Ana: ", locale: "pt-BR", utc_offset_min: -180,
  });
});

test("buildCapture: sent message is direction out", () => {
  const capture = buildCapture({ dataId: "true_5511987654321@c.us_3EB0AC", text: "Oi", chatTitle: "Ana" }, ENV);
  assert.equal(capture.direction, "out");
  assert.equal(capture.name, "Ana");
  assert.equal(capture.pre_plain_text, undefined);
});

test("buildCapture: @lid chat sends no phone unless the title is a phone number", () => {
  const hidden = buildCapture({ dataId: "false_123456789012345@lid_AB", text: "hi", chatTitle: "Bruno" }, ENV);
  assert.equal(hidden.phone, undefined);
  assert.equal(hidden.chat_id, "123456789012345@lid");
  const shown = buildCapture({ dataId: "false_123456789012345@lid_AB", text: "hi", chatTitle: "+55 21 99876-5432" }, ENV);
  assert.equal(shown.phone, "+5521998765432");
});

test("buildCapture: group received message names participant and sender; sent one does not", () => {
  const received = buildCapture({
    dataId: "false_120363041234567890@g.us_3EB0AA_5511912345678@c.us", text: "bom dia",
    prePlainText: "[09:00, 06/12/2024] Carla: ", chatTitle: "Clientes VIP",
  }, ENV);
  assert.equal(received.participant, "5511912345678@c.us");
  assert.equal(received.name, "Carla");
  assert.equal(received.chat_name, "Clientes VIP");
  assert.equal(received.phone, undefined);
  const sent = buildCapture({
    dataId: "true_120363041234567890@g.us_3EB0AB_5511900000000@c.us", text: "bom dia a todos", chatTitle: "Clientes VIP",
  }, ENV);
  assert.equal(sent.participant, undefined);
  assert.equal(sent.name, undefined);
  assert.equal(sent.direction, "out");
});

test("buildCapture: media keeps type and caption; unknown types fall back to text; bad ids give null", () => {
  const image = buildCapture({ dataId: "false_5511@c.us_AB", text: "look", type: "image" }, ENV);
  assert.equal(image.type, "image");
  assert.equal(image.content, "look");
  const audio = buildCapture({ dataId: "false_5511@c.us_AC", type: "audio" }, ENV);
  assert.equal(audio.content, "");
  assert.equal(buildCapture({ dataId: "false_5511@c.us_AD", text: "x", type: "poll" }, ENV).type, "text");
  assert.equal(buildCapture({ dataId: "garbage", text: "x" }, ENV), null);
});

test("eventConcernsChat matches by data-id, chat_id or conversation id", () => {
  const chat = "5511987654321@c.us";
  assert.ok(eventConcernsChat({ type: "message.captured", data: { message_id: `false_${chat}_AB` } }, chat, null));
  assert.ok(eventConcernsChat({ type: "analysis.completed", data: { message_id: 7, conversation_id: 3 } }, chat, 3));
  assert.ok(eventConcernsChat({ type: "x", data: { chat_id: chat } }, chat, null));
  assert.ok(!eventConcernsChat({ type: "analysis.completed", data: { message_id: 7, conversation_id: 4 } }, chat, 3));
  assert.ok(!eventConcernsChat({ type: "message.captured", data: { message_id: "false_1@c.us_AB" } }, chat, null));
  assert.ok(!eventConcernsChat({}, chat, null));
});
