// The caller's live events: the WebSocket /api/v1/events/stream, authenticated by a first
// message {"token": ...} (a browser cannot set headers on a WebSocket). Reconnects with a
// growing delay; a 4401 close (token revoked or expired) stops it.
export function openEvents(getToken, onEvent, onState) {
  let ws = null;
  let stopped = false;
  let delay = 500;
  let timer = null;

  function connect() {
    const t = getToken();
    if (stopped || !t) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    ws = new WebSocket(`${scheme}://${location.host}/api/v1/events/stream`);
    ws.onopen = () => ws.send(JSON.stringify({ token: t }));
    ws.onmessage = (m) => {
      let msg;
      try {
        msg = JSON.parse(m.data);
      } catch {
        return;
      }
      if (!msg || typeof msg.type !== "string") return;
      if (msg.type === "ready") {
        delay = 500;
        onState("live");
      } else if (msg.type !== "heartbeat") {
        onEvent(msg);
      }
    };
    ws.onclose = (e) => {
      ws = null;
      onState("offline");
      if (stopped || e.code === 4401) return;
      timer = setTimeout(connect, delay);
      delay = Math.min(delay * 2, 15000);
    };
  }
  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (ws) ws.close(1000);
  };
}
