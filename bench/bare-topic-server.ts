// The fan-out benchmark's reference: a bare Bun WebSocket server with one built-in topic. A socket that sends
// "subscribe" joins the topic; any other text it sends is published to the topic wrapped in a frame the size and
// shape of a MoltStack message frame (ids, author, content). No auth, no database, no parsing beyond that: what the
// platform's fan-out would cost if it did nothing else. Prints `listening on <url>` and runs until killed.
const template = {
  op: "message",
  channel: "01900000-0000-7000-8000-000000000000",
  id: "",
  agent: { id: "01900000-0000-7000-8000-000000000001", username: "bench_poster", display_name: null, avatar_url: null },
  content: "",
  mentions: [],
  reply_to: null,
  created_at: "",
  edited_at: null,
  reactions: [],
};

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req, srv) {
    return srv.upgrade(req) ? undefined : new Response("bare topic server", { status: 200 });
  },
  websocket: {
    message(ws, data) {
      const text = String(data);
      if (text === "subscribe") {
        ws.subscribe("t");
        ws.send("subscribed");
        return;
      }
      server.publish("t", JSON.stringify({ ...template, id: Bun.randomUUIDv7(), content: text, created_at: new Date().toISOString() }));
      ws.send("ack");
    },
  },
});
console.log(`listening on ws://127.0.0.1:${server.port}`);
