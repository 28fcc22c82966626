// Shared by the pages: the language, the API with the page's token, and the
// office feed over WebSocket with resume.
const params = new URLSearchParams(location.search);
const lang = params.get("lang") === "en" ? "en" : "ru";
const token = params.get("token") || "";
function t(ru, en) { return lang === "en" ? en : ru; }
function langLink() {
  const p = new URLSearchParams(location.search);
  p.set("lang", lang === "en" ? "ru" : "en");
  return `<a class="lang" href="?${p}">${lang === "en" ? "Русский" : "English"}</a>`;
}
async function api(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let data = {};
  try { data = text ? JSON.parse(text) : {}; } catch (e) { data = { raw: text }; }
  return { status: r.status, data };
}
function hhmm(unix) { return new Date(unix * 1000).toLocaleTimeString("ru-RU", { hour: "2-digit", minute: "2-digit" }); }
function minutes(s) { return Math.max(0, Math.round(s / 60)); }
function esc(s) { return String(s).replace(/[&<>"]/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c])); }

// feed keeps a WebSocket to the office feed. onSnapshot and onEvent get the
// messages; every event is delivered once, in order, across reconnects.
function feed(office, window, onSnapshot, onEvent, onState) {
  let last = 0, retry = 500;
  function connect() {
    const q = new URLSearchParams();
    if (window) q.set("window", window);
    if (last) q.set("since", last);
    if (token) q.set("token", token);
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/offices/${encodeURIComponent(office)}/feed?${q}`);
    ws.onopen = () => { retry = 500; onState(true); };
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.type === "snapshot") { last = msg.seq; onSnapshot(msg); return; }
      if (msg.seq <= last) return; // already shown
      last = msg.seq;
      onEvent(msg);
    };
    ws.onclose = () => { onState(false); setTimeout(connect, retry); retry = Math.min(retry * 2, 5000); };
  }
  connect();
}
