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
  if (authToken()) headers.Authorization = "Bearer " + authToken();
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
    if (authToken()) q.set("token", authToken());
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

// What every error code of the API tells the page's reader.
const errorTexts = {
  invalid_request: ["Запрос не понят. Проверьте введённые данные.", "The request was not understood. Check what you entered."],
  not_found: ["Не найдено.", "Not found."],
  unknown_office: ["Такого офиса нет.", "No such office."],
  unknown_service: ["Такой услуги здесь нет.", "No such service here."],
  unknown_window: ["Такого окна нет.", "No such window."],
  slot_taken: ["Это время уже заняли. Выберите другое — ближайшее свободное ниже.", "This time was just taken. Choose another: the nearest free ones are below."],
  outside_horizon: ["Записаться можно не более чем на 30 дней вперёд.", "You can book at most 30 days ahead."],
  office_closed: ["В это время офис не работает.", "The office is closed then."],
  not_bookable: ["На эту услугу нельзя записаться заранее — возьмите талон в офисе.", "This service cannot be booked: take a ticket at the office."],
  limit_exceeded: ["У вас уже есть запись на эту услугу. Перенесите или отмените её.", "You already hold a booking for this service. Move or cancel it."],
  hold_expired: ["Время удержания истекло. Выберите время снова.", "The hold ran out. Choose a time again."],
  reschedule_limit: ["Запись можно перенести не более трёх раз.", "A booking can be moved at most three times."],
  not_active: ["Запись не действует.", "The booking is not active."],
  not_confirmed: ["Запись не подтверждена.", "The booking is not confirmed."],
  invalid_qr: ["QR-код не распознан или подделан.", "The QR code is not valid."],
  wrong_office: ["Этот талон — для другого офиса МФЦ.", "This talon is for another office."],
  too_early: ["Слишком рано: регистрация открывается за 30 минут до приёма.", "Too early: check-in opens 30 minutes before your time."],
  too_late: ["Время записи прошло. Возьмите талон в терминале.", "Your time has passed. Please take a ticket at the kiosk."],
  already_checked_in: ["Вы уже зарегистрированы.", "You are already checked in."],
  cancelled: ["Запись отменена.", "The booking was cancelled."],
  no_current_ticket: ["Сейчас у окна никого нет.", "Nobody is at the window."],
  window_busy: ["Сначала завершите приём текущего заявителя.", "Finish the current applicant first."],
  window_not_open: ["Окно закрыто: сначала откройте его.", "The window is closed: open it first."],
  invalid_config: ["Конфигурация не принята.", "The configuration was refused."],
  rate_limited: ["Слишком много запросов. Попробуйте через минуту.", "Too many requests. Try again in a minute."],
  unauthorized: ["Нужен ключ доступа.", "An access token is needed."],
  forbidden: ["Нет доступа.", "Not allowed."],
  no_leader: ["Сервер занят, повторите через несколько секунд.", "The server is busy: try again in a few seconds."],
  unknown_outcome: ["Связь прервалась: проверьте, прошла ли операция, и при необходимости повторите.", "The connection broke: check whether it went through, and try again if not."],
  timeout: ["Сервер не ответил вовремя. Повторите.", "The server did not answer in time. Try again."],
  unavailable: ["Сервер временно недоступен. Повторите.", "The server is unavailable for a moment. Try again."],
  lagging: ["Сервер догоняет данные. Повторите.", "The server is catching up. Try again."],
  halted: ["Сервер остановлен. Обратитесь к администратору.", "The server stopped. Call the administrator."],
  not_ready: ["Сервер ещё не готов. Повторите.", "The server is not ready yet. Try again."],
  field_too_long: ["Слишком длинное значение.", "A value is too long."],
  invalid_command: ["Запрос отклонён.", "The request was refused."],
  invalid_phone: ["Проверьте номер телефона.", "Check the phone number."],
  closing_soon: ["Сегодня до закрытия офиса вас уже не успеют принять.", "The office could not see you before it closes today."],
  window_signed_out: ["К окну не подключён оператор: войдите в систему.", "Nobody is signed in to this window: sign in."],
  not_your_window: ["Это окно другого оператора.", "This is another operator's window."],
  window_taken: ["К этому окну уже подключён другой оператор.", "Another operator is signed in to this window."],
  idempotency_key_reused: ["Повторный запрос отличается от первого.", "The repeated request differs from the first."],
  body_too_large: ["Слишком большой запрос.", "The request is too large."],
  internal: ["Внутренняя ошибка сервера.", "Internal server error."],
};
// An employee's session (POST /api/v1/sessions) is kept for the browser tab
// and used instead of the page's ?token=.
let session = JSON.parse(sessionStorage.getItem("talon-session") || "null");
function authToken() { return (session && session.token) || token; }
// signInForm shows, in element el, who is signed in (with a sign-out
// button) or a sign-in form; onChange runs after either.
function signInForm(el, onChange) {
  if (session) {
    el.innerHTML = `<span id="who">${t("Сотрудник", "Employee")}: <b>${esc(session.employee.name)}</b></span> <button id="sign-out">${t("Выйти", "Sign out")}</button>`;
    el.querySelector("#sign-out").onclick = async () => {
      await onChange(false);
      await api("DELETE", "/api/v1/sessions");
      session = null;
      sessionStorage.removeItem("talon-session");
      signInForm(el, onChange);
    };
    return;
  }
  el.innerHTML = `<form id="sign-in" class="buttons"><input type="text" id="employee" placeholder="${t("Табельный код", "Employee id")}" autocomplete="username">
    <input type="password" id="password" placeholder="${t("Пароль", "Password")}" autocomplete="current-password"><button type="submit">${t("Войти", "Sign in")}</button></form><div id="sign-in-msg"></div>`;
  el.querySelector("#sign-in").onsubmit = async e => {
    e.preventDefault();
    const r = await api("POST", "/api/v1/sessions", { employee: el.querySelector("#employee").value.trim(), password: el.querySelector("#password").value });
    if (r.status !== 201) {
      el.querySelector("#sign-in-msg").innerHTML = `<div class="msg bad">${esc(t("Неверный код или пароль.", "Wrong id or password."))}</div>`;
      return;
    }
    session = r.data;
    sessionStorage.setItem("talon-session", JSON.stringify(session));
    signInForm(el, onChange);
    await onChange(true);
  };
}

// errorText is the answer r's error, in the page's language.
function errorText(r) {
  const e = (r.data && r.data.error) || {};
  const m = errorTexts[e.code];
  if (m && e.next_open) { // "2026-11-29T08:00:00+07:00": the office's own wall time
    const s = e.next_open, day = s.slice(8, 10) + "." + s.slice(5, 7), at = s.slice(11, 16);
    return t(m[0] + ` Офис откроется ${day} в ${at}.`, m[1] + ` It opens again on ${day} at ${at}.`);
  }
  return m ? t(m[0], m[1]) : t("Не получилось", "It did not work") + (e.message ? ": " + e.message : ` (${r.status})`);
}

// Times are shown in the office's time zone, whatever the browser's.
function timeIn(tz, when) {
  return new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "ru-RU", { hour: "2-digit", minute: "2-digit", timeZone: tz || undefined }).format(when || new Date());
}
function dateTimeIn(tz, when) {
  return new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "ru-RU", { day: "numeric", month: "long", hour: "2-digit", minute: "2-digit", timeZone: tz || undefined }).format(when);
}
function svcName(s) { return lang === "en" && s.name_en ? s.name_en : s.name; }

// loadOffice is an office's description, or null after showing a clear page
// for an office that does not exist.
async function loadOffice(id) {
  const r = await api("GET", "/api/v1/offices/" + encodeURIComponent(id));
  if (r.status === 404) {
    notFound(t(`Офис «${id}» не найден`, `There is no office "${id}"`));
    return null;
  }
  return r.data;
}
function notFound(msg) {
  document.body.className = "light";
  document.body.innerHTML = `<header><h1 id="title">${esc(msg)}</h1></header><div class="wrap"><div class="card" id="not-found">
    <p>${t("Проверьте адрес страницы.", "Check the page's address.")} <a href="/${esc(location.search)}">${t("Все офисы", "All offices")}</a></p></div></div>`;
}
