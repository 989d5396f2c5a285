"""The agents' page: log "non chiamatemi più" during a call, and check a number.

Plain HTML and a little JavaScript, no external fetches. The token stays in the tab's
sessionStorage (gone when the tab closes) and is sent as a bearer token. Reasons are shown
in the words the service sends (`reason_text`), so the page never lags behind the policy's
codes; times are shown in Italian format and the jurisdiction's local time (its zone
written in by the server), whatever the agent's PC is set to.
"""

import html
import json

AGENT_PAGE = """<!DOCTYPE html>
<html lang="it">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gatekeeper — opposizioni</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:34rem;
margin:2rem auto;padding:0 1rem;color:#1d2430}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
label{display:block;margin:.7rem 0 .2rem;font-weight:600}
input,select,textarea,button{font:inherit;padding:.45rem;width:100%;box-sizing:border-box}
button{margin-top:1rem;background:#2f6fb5;color:#fff;border:0;border-radius:4px;
cursor:pointer}button.secondary{background:#5b6576}
.ok{background:#e6f4ea;border:1px solid #34a853;padding:.8rem;margin-top:1rem}
.ko{background:#fdecea;border:1px solid #d93025;padding:.8rem;margin-top:1rem}
.pair{display:flex;gap:0 1rem;flex-wrap:wrap}.pair>div{flex:1 1 12rem}
[hidden]{display:none}
</style>
</head>
<body>
<h1>Registro delle opposizioni</h1>
<section id="login">
  <p>Inserisca il codice di accesso (token) che le ha dato il responsabile.</p>
  <form id="login-form">
    <label for="token">Codice di accesso</label>
    <input id="token" type="password" autocomplete="off" required>
    <button type="submit" id="login-button">Entra</button>
  </form>
</section>
<section id="work" hidden>
  <h2>Si può chiamare?</h2>
  <form id="check-form">
    <label for="check-phone">Numero di telefono</label>
    <input id="check-phone" inputmode="tel" autocomplete="off" required placeholder="333 123 4567">
    <div class="pair">
      <div><label for="check-campaign">Campagna</label>
      <input id="check-campaign" autocomplete="off" placeholder="demo"></div>
      <div><label for="check-agency">Call center (codice)</label>
      <input id="check-agency" autocomplete="off" placeholder="connecto"></div>
    </div>
    <button type="submit" id="check-button">Si può chiamare?</button>
  </form>
  <div id="check-result" role="status" hidden></div>
  <h2>"Non chiamatemi più"</h2>
  <p>Registri l'opposizione mentre è al telefono: vale subito, per ogni campagna.</p>
  <form id="optout-form">
    <label for="phone">Numero di telefono</label>
    <input id="phone" inputmode="tel" autocomplete="off" required placeholder="333 123 4567">
    <label for="channel">Come l'ha chiesto</label>
    <select id="channel">
      <option value="operator">Al telefono, con me</option>
      <option value="email">Per e-mail</option>
      <option value="letter">Per lettera</option>
      <option value="web">Dal sito</option>
    </select>
    <label for="scope">Per cosa</label>
    <select id="scope">
      <option value="all">Tutte le chiamate</option>
      <option value="telemarketing">Solo offerte commerciali</option>
      <option value="survey">Solo sondaggi</option>
    </select>
    <label for="note">Nota (facoltativa, senza altri dati personali)</label>
    <textarea id="note" rows="2" maxlength="500"></textarea>
    <button type="submit" id="optout-button">Registra l'opposizione</button>
  </form>
  <div id="optout-result" role="status" hidden></div>
  <h2>Esito della chiamata</h2>
  <p>Registri com'è andata la chiamata: conta per i limiti di tentativi e per la prova dei
  contratti.</p>
  <form id="call-form">
    <label for="call-phone">Numero chiamato</label>
    <input id="call-phone" inputmode="tel" autocomplete="off" required>
    <label for="call-outcome">Esito</label>
    <select id="call-outcome">
      <option value="answered">Ha risposto</option>
      <option value="no_answer">Nessuna risposta</option>
      <option value="busy">Occupato</option>
      <option value="voicemail">Segreteria</option>
      <option value="refused">Non interessato</option>
      <option value="callback">Da richiamare</option>
      <option value="sale">Contratto concluso</option>
      <option value="wrong_number">Numero errato</option>
      <option value="optout">Non vuole più essere chiamato</option>
    </select>
    <label for="call-agency">Call center (codice)</label>
    <input id="call-agency" autocomplete="off" required placeholder="connecto">
    <label for="call-campaign">Campagna (facoltativa)</label>
    <input id="call-campaign" autocomplete="off">
    <button type="submit" class="secondary" id="call-button">Registra l'esito</button>
  </form>
  <div id="call-result" role="status" hidden></div>
  <p><button type="button" class="secondary" id="logout">Esci</button></p>
</section>
<script>
const $ = (id) => document.getElementById(id);
// The jurisdiction's local time (the server writes its zone in), Italian format
// ("05/12/2026 alle 10:00"), whatever the PC's time zone.
const LOCAL = new Intl.DateTimeFormat("it-IT", {timeZone: __TIMEZONE__, day: "2-digit",
  month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23"});
function localTime(iso) {
  const p = {};
  for (const part of LOCAL.formatToParts(new Date(iso))) { p[part.type] = part.value; }
  return p.day + "/" + p.month + "/" + p.year + " alle " + p.hour + ":" + p.minute;
}
// What the service's error codes mean for an agent, in Italian only; the service's own
// words (English, for whoever supports it) go to the browser's console, not the page.
const ERRORI = {
  invalid_phone: "il numero non è un numero di telefono valido: controlli le cifre",
  invalid_call: "dati della chiamata incompleti o non validi",
  invalid_outcome: "esito non riconosciuto",
  invalid_started_at: "ora della chiamata non valida: controlli l'orologio del computer",
  invalid_received_at: "data della richiesta non valida",
  invalid_note: "nota non valida o troppo lunga",
  invalid_purpose: "finalità non riconosciuta",
  invalid_input: "dati non validi",
  invalid_json: "richiesta non leggibile",
  invalid_calls: "dati della chiamata non validi",
  invalid_direction: "direzione della chiamata non valida",
  invalid_duration: "durata della chiamata non valida",
  invalid_channel: "canale non riconosciuto",
  invalid_scope: "ambito dell'opposizione non riconosciuto",
  invalid_numbers: "elenco di numeri non valido",
  not_found: "non trovato",
  unauthorized: "sessione scaduta o codice non valido: entri di nuovo in un'altra scheda " +
    "(/console) e poi ripeta qui; i dati scritti restano",
  csrf: "pagina scaduta: la ricarichi e riprovi",
  forbidden: "il suo codice di accesso non consente questa operazione",
  store_busy: "servizio momentaneamente occupato: riprovi tra qualche secondo",
  journal_damaged: "registro delle opposizioni non verificabile: non chiami nessun numero e " +
    "avvisi il responsabile privacy",
  store_damaged: "archivio non verificabile: non chiami nessun numero e avvisi il responsabile",
  body_too_large: "richiesta troppo grande",
  body_timeout: "richiesta arrivata troppo lentamente: riprovi",
  agency_not_bound: "il suo codice di accesso registra solo le chiamate del suo call center: " +
    "controlli il codice del call center",
  token_without_agency: "codice di accesso senza call center: ne chieda uno nuovo",
  inbound_needs_agency_token: "le chiamate in entrata si registrano solo con il codice di " +
    "accesso del call center",
  inbound_not_declared: "il call center non risulta abilitato alle chiamate in entrata",
  inbound_line_undeclared: "il numero chiamato non è una linea in entrata del call center",
  unavailable: "servizio non disponibile: riprovi; se persiste avvisi l'assistenza",
  internal: "errore del servizio: riprovi; se persiste avvisi l'assistenza",
};
function why(r) {
  const error = r.data.error || {};
  if (error.message) { console.warn("gatekeeper:", error.code, error.message); }
  return ERRORI[error.code] || ("errore del servizio (codice " + r.status + ")");
}
// In the console the page rides on the signed-in session (its cookie, and the CSRF token
// below on every write); at "/" it asks for the token and keeps it for the tab.
const SESSION = document.querySelector('meta[name="csrf"]');
function token() { return SESSION ? "session" : sessionStorage.getItem("gk-token"); }
function show(loggedIn) { $("login").hidden = loggedIn; $("work").hidden = !loggedIn; }
function result(box, ok, text) {
  const el = $(box); el.hidden = false; el.className = ok ? "ok" : "ko"; el.textContent = text;
}
async function call(method, url, body) {
  const headers = {"Content-Type": "application/json"};
  if (SESSION) { headers["X-CSRF-Token"] = SESSION.content; }
  else { headers["Authorization"] = "Bearer " + token(); }
  const response = await fetch(url, {method, headers, credentials: "same-origin",
    body: body ? JSON.stringify(body) : undefined});
  const data = await response.json().catch(() => ({}));
  // On a console session that ended, stay on the page: what was typed stays there and
  // the box says it was NOT recorded; the agent signs in again in another tab.
  if (response.status === 401 && !SESSION) { sessionStorage.removeItem("gk-token"); show(false); }
  return {status: response.status, data};
}
$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault(); sessionStorage.setItem("gk-token", $("token").value.trim());
  $("token").value = "";
  const probe = await call("GET", "/v1/check?phone=0200000000");
  if (probe.status === 401) { alert("Codice di accesso non valido"); return; }
  show(true);
});
$("logout").addEventListener("click", () => {
  if (SESSION) { document.getElementById("signout").click(); return; }
  sessionStorage.removeItem("gk-token"); show(false);
});
// Campaign and call centre are the same all shift: remembered on this PC.
function remember(id) {
  const key = "gk-" + id;
  if ($(id).dataset.bound) { return; }  // the token's own call centre: not the PC's
  $(id).value = localStorage.getItem(key) || "";
  $(id).addEventListener("change", () => localStorage.setItem(key, $(id).value.trim()));
}
["check-campaign", "check-agency", "call-agency", "call-campaign"].forEach(remember);
$("optout-form").addEventListener("submit", async (ev) => {
  ev.preventDefault(); $("optout-button").disabled = true;
  try {
    const r = await call("POST", "/v1/optouts", {phone: $("phone").value,
      channel: $("channel").value, scope: $("scope").value, note: $("note").value});
    if (r.status === 201) {
      const when = localTime(r.data.recorded_at);
      result("optout-result", true, "Opposizione registrata per " + r.data.phone + " il " +
        when + ". Riferimento n. " + r.data.ref + ". Da ora il numero non verrà più chiamato.");
      $("phone").value = ""; $("note").value = "";
    } else {
      result("optout-result", false, "Non registrata: " + why(r) + ".");
    }
  } catch (e) {
    result("optout-result", false, "Non registrata: servizio non raggiungibile. Riprovi.");
  } finally { $("optout-button").disabled = false; }
});
$("call-form").addEventListener("submit", async (ev) => {
  ev.preventDefault(); $("call-button").disabled = true;
  try {
    const r = await call("POST", "/v1/calls", {phone: $("call-phone").value,
      outcome: $("call-outcome").value, agency: $("call-agency").value.trim(),
      campaign: $("call-campaign").value.trim() || null, call_id: "page-" + crypto.randomUUID(),
      started_at: new Date().toISOString()});
    if (r.status === 201 || r.status === 200) {
      const stored = (r.data.stored || [])[0] || (r.data.already_recorded || [])[0];
      result("call-result", true, "Esito registrato per " + stored.phone + " il " +
        localTime(stored.recorded_at) + "." + (r.data.optouts_recorded ?
        " Anche l'opposizione è registrata: il numero non verrà più chiamato." : ""));
      $("call-phone").value = "";
    } else {
      result("call-result", false, "Non registrato: " + why(r) + ".");
    }
  } catch (e) {
    result("call-result", false, "Non registrato: servizio non raggiungibile. Riprovi.");
  } finally { $("call-button").disabled = false; }
});
$("check-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const ask = new URLSearchParams({purpose: "telemarketing", phone: $("check-phone").value});
  for (const [key, id] of [["campaign", "check-campaign"], ["agency", "check-agency"]]) {
    if ($(id).value.trim()) { ask.set(key, $(id).value.trim()); }
  }
  const r = await call("GET", "/v1/check?" + ask.toString());
  if (r.status !== 200) {
    result("check-result", false, "Nessuna risposta: " + why(r) + ".");
  } else if (r.data.dialable) {
    result("check-result", true, r.data.phone + ": si può chiamare" + (r.data.valid_until ?
      " fino al " + localTime(r.data.valid_until) + " (ora italiana)" : "") + ". Base giuridica: " +
      (r.data.basis_text || r.data.basis) + ".");
  } else {
    result("check-result", false, r.data.phone + ": NON chiamare — " +
      (r.data.reason_text || "motivo non indicato") + " (codice " + r.data.reason + ")." +
      (r.data.next_allowed_at ? " Si potrà chiamare dal " + localTime(r.data.next_allowed_at) +
       " (ora italiana)." : ""));
  }
});
show(Boolean(token()));
</script>
</body>
</html>
"""


def agent_page(zone: str) -> str:
    """The agent's page, showing instants in the jurisdiction's zone: the server's to
    say, so no country's zone is written into the script."""
    return AGENT_PAGE.replace("__TIMEZONE__", json.dumps(zone), 1)


def console_agent_page(csrf: str, name: str, agency: str | None = None, *,
                       zone: str) -> str:
    """The same page inside the console: signed in by the session, so no token form; the
    CSRF token rides in a meta tag for the script's writes, and "Esci" ends the session.
    An agent bound to a call centre has it filled in and fixed (the service would refuse
    another one)."""
    safe = html.escape(name)
    page = agent_page(zone)
    if agency:
        bound = html.escape(agency, quote=True)
        for field in ("check-agency", "call-agency"):
            page = page.replace(f'<input id="{field}" autocomplete="off"',
                                f'<input id="{field}" value="{bound}" readonly '
                                'data-bound="1" autocomplete="off"', 1)
    return (page
            .replace("<head>\n", f'<head>\n<meta name="csrf" content="{html.escape(csrf)}">\n', 1)
            .replace("<h1>Registro delle opposizioni</h1>",
                     '<form method="post" action="/console/esci" style="float:right">'
                     f'<input type="hidden" name="csrf" value="{html.escape(csrf)}">'
                     f'<span>{safe}</span> <button type="submit" id="signout" '
                     'class="secondary" style="width:auto;margin:0">Esci</button></form>'
                     "<h1>Agente</h1>", 1))
