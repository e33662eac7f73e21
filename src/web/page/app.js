// The nanoclaw page: connections per owner, the authorization dialog, skill runs, live activity.
// A plain ES module with no build step. Everything shown is set with textContent, never as HTML.

const EVENT_TYPES = [
  'auth_required',
  'token_synced',
  'token_needs_auth',
  'skill_started',
  'skill_output',
  'skill_exited',
  'error',
];
const STATE_LABELS = {
  fresh: ['connected', 'Connected'],
  stale: ['connected', 'Connected'],
  expiring: ['expiring', 'Expiring soon'],
  expired: ['expired', 'Expired'],
  missing: ['missing', 'Not connected'],
  corrupt: ['corrupt', 'Damaged'],
};
const MAX_ACTIVITY = 60;
const MAX_RUN_LINES = 2000;

const $ = (id) => document.getElementById(id);

const state = {
  settings: null,
  status: null,
  events: null,
  /** auth_required prompts waiting for the dialog, one per owner/provider. */
  prompts: [],
  /** The prompt the dialog shows, with what it is waiting for. */
  current: null,
  runs: new Map(),
  /** Output of runs whose panel is not there yet (events can beat the run request's answer). */
  early: new Map(),
};

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(path, { method = 'GET', body } = {}) {
  const response = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error =
      data && data.error ? data.error : { code: 'HTTP_' + response.status, message: response.statusText };
    if (response.status === 401) showLogin();
    throw new ApiError(response.status, error.code, error.message);
  }
  return data;
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof window.Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function toast(message, kind = 'info') {
  const node = element('div', { class: `toast ${kind}` }, message);
  $('toasts').append(node);
  setTimeout(() => node.remove(), kind === 'error' ? 8000 : 4000);
}

function formatDuration(ms) {
  const seconds = Math.round(Math.abs(ms) / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d ${hours % 24}h`;
}

function relative(iso) {
  if (!iso) return '';
  const diff = Date.parse(iso) - Date.now();
  return diff >= 0 ? `in ${formatDuration(diff)}` : `${formatDuration(diff)} ago`;
}

function timeOf(iso) {
  return iso
    ? new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })
    : '';
}

function providerInfo(name) {
  return state.settings?.providers.find((provider) => provider.name === name) ?? null;
}

// --- login -----------------------------------------------------------------------------------------

function showLogin(message = '') {
  $('app').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message;
  state.events?.close();
  state.events = null;
  setLive('offline', 'logged out');
}

async function login(event) {
  event.preventDefault();
  const input = $('login-token');
  try {
    await api('/api/session', { method: 'POST', body: { token: input.value.trim() } });
    input.value = '';
    await start();
  } catch (error) {
    $('login-error').textContent = error.message;
  }
}

async function logout() {
  await api('/api/session', { method: 'DELETE' }).catch(() => {});
  showLogin();
}

// --- connections -----------------------------------------------------------------------------------

async function loadStatus() {
  state.status = await api('/api/status');
  renderStatus();
}

let statusReload = null;
/** Many events in a burst make one status request. */
function reloadStatusSoon() {
  clearTimeout(statusReload);
  statusReload = setTimeout(() => loadStatus().catch(() => {}), 150);
}

function renderStatus() {
  const container = $('owners');
  const owners = state.status?.owners ?? [];
  const ownerList = $('owner-list');
  ownerList.replaceChildren(...owners.map((row) => element('option', { value: row.owner })));
  if (!$('run-owner').value) $('run-owner').value = state.status?.defaultOwner ?? 'main';
  if (owners.every((row) => row.providers.length === 0)) {
    container.replaceChildren(
      element('p', { class: 'muted' }, 'No providers are configured yet: add some to nanoclaw.config.yaml.'),
    );
    return;
  }
  container.replaceChildren(
    ...owners.map((row) =>
      element(
        'div',
        { class: 'owner', dataset: { owner: row.owner } },
        element('h3', {}, `Owner: ${row.owner}`),
        element(
          'table',
          { 'aria-label': `Connections of ${row.owner}` },
          element(
            'thead',
            {},
            element(
              'tr',
              {},
              ...['Provider', 'State', 'Expires', 'Last sync', ''].map((title) =>
                element('th', { scope: 'col' }, title),
              ),
            ),
          ),
          element('tbody', {}, ...row.providers.map((provider) => renderRow(row.owner, provider))),
        ),
      ),
    ),
  );
  $('status-updated').textContent = `updated ${timeOf(state.status.now)}`;
}

function renderRow(owner, token) {
  const connected = token.state !== 'missing';
  const info = providerInfo(token.provider);
  const canConnect = info ? info.connectable : true;
  // A client-credentials token is fetched on first use; there is nothing for anyone to connect.
  const [kind, label] =
    !connected && !canConnect
      ? ['waiting', 'Not synced yet']
      : (STATE_LABELS[token.state] ?? ['waiting', token.state]);
  const refresh = token.refresh;
  const note = refresh && refresh.lastError ? `retrying: ${refresh.lastError.message}` : '';
  return element(
    'tr',
    { dataset: { owner, provider: token.provider, state: kind } },
    element(
      'td',
      {},
      element('div', { class: 'provider-name' }, token.provider),
      element('div', { class: 'source' }, token.source),
    ),
    element('td', {}, element('span', { class: `badge ${kind}`, title: note || null }, label)),
    element(
      'td',
      { class: 'expires', dataset: { expiresAt: token.expiresAt ?? '' } },
      token.expiresAt ? relative(token.expiresAt) : connected ? 'never' : '—',
    ),
    element('td', { class: 'muted' }, token.syncedAt ? timeOf(token.syncedAt) : '—'),
    element(
      'td',
      { class: 'actions' },
      element(
        'div',
        { class: 'row-actions' },
        canConnect
          ? element(
              'button',
              {
                type: 'button',
                class: 'small',
                onclick: () => promptConnect({ owner, provider: token.provider, scopes: [], skill: null }),
              },
              connected ? 'Reconnect' : 'Connect',
            )
          : null,
        connected && canConnect
          ? element(
              'button',
              { type: 'button', class: 'small danger', onclick: () => disconnect(owner, token.provider) },
              'Disconnect',
            )
          : null,
      ),
    ),
  );
}

/** Expiry times count down without asking the server. */
function tickExpiries() {
  for (const cell of document.querySelectorAll('td.expires')) {
    const iso = cell.dataset.expiresAt;
    if (iso) cell.textContent = relative(iso);
  }
}

async function disconnect(owner, provider) {
  if (!window.confirm(`Disconnect ${provider} for ${owner}? Skills will ask to authorize again.`)) return;
  try {
    await api(`/api/connections/${encodeURIComponent(owner)}/${encodeURIComponent(provider)}`, {
      method: 'DELETE',
    });
    toast(`${provider} disconnected for ${owner}`);
  } catch (error) {
    toast(`Cannot disconnect ${provider}: ${error.message}`, 'error');
  }
  reloadStatusSoon();
}

// --- the authorization dialog ----------------------------------------------------------------------

const sameTarget = (a, b) => a && b && a.owner === b.owner && a.provider === b.provider;

function promptConnect(prompt) {
  if (sameTarget(state.current, prompt) || state.prompts.some((queued) => sameTarget(queued, prompt))) return;
  state.prompts.push(prompt);
  showNextPrompt();
}

function showNextPrompt() {
  const dialog = $('auth-dialog');
  if (state.current || state.prompts.length === 0) return;
  const prompt = state.prompts.shift();
  state.current = { ...prompt, waiting: false, connecting: false };
  const info = providerInfo(prompt.provider);
  $('auth-title').textContent = `Connect ${prompt.provider}`;
  $('auth-text').textContent = prompt.skill
    ? `The skill “${prompt.skill}” needs access to ${prompt.provider} for owner “${prompt.owner}”.`
    : `Authorize ${prompt.provider} for owner “${prompt.owner}”.`;
  $('auth-scopes').textContent =
    prompt.scopes && prompt.scopes.length > 0 ? `Scopes: ${prompt.scopes.join(', ')}` : '';
  $('auth-status').textContent = info
    ? `You will sign in ${info.source === 'nango' ? 'through Nango' : 'with the provider'} and come back here.`
    : '';
  $('auth-connect').disabled = false;
  $('auth-connect').textContent = 'Connect';
  dialog.dataset.owner = prompt.owner;
  dialog.dataset.provider = prompt.provider;
  if (!dialog.open) dialog.showModal();
  $('auth-connect').focus();
}

/** Ends the prompt on show (only that one: a later prompt may have taken its place meanwhile). */
function finishPrompt(prompt = state.current) {
  if (!prompt || state.current !== prompt) return;
  const dialog = $('auth-dialog');
  state.current = null;
  if (dialog.open) dialog.close();
  setTimeout(showNextPrompt, 0);
}

async function connectCurrent() {
  const prompt = state.current;
  if (!prompt) return;
  const info = providerInfo(prompt.provider);
  if (info && info.source === 'builtin') {
    // Opened in the click itself, or popup blockers refuse it.
    const url = `/auth/oauth/${encodeURIComponent(prompt.provider)}/start?owner=${encodeURIComponent(prompt.owner)}`;
    const popup = window.open(url, 'nanoclaw-oauth', 'popup,width=520,height=680');
    prompt.waiting = true;
    $('auth-connect').disabled = true;
    $('auth-status').replaceChildren(
      popup
        ? 'Waiting for you to finish in the popup…'
        : element(
            'span',
            {},
            'The popup was blocked: ',
            element('a', { href: url, target: '_blank', rel: 'opener' }, 'open the sign-in page'),
            '.',
          ),
    );
    return;
  }
  prompt.connecting = true;
  $('auth-connect').disabled = true;
  $('auth-status').textContent = 'Opening Nango Connect…';
  try {
    const session = await api('/api/connect-sessions', {
      method: 'POST',
      body: { owner: prompt.owner, provider: prompt.provider },
    });
    // Connect UI is an overlay on this page; a modal dialog would sit above it and keep it inert.
    $('auth-dialog').close();
    await openNangoConnect(prompt, session.token);
  } catch (error) {
    prompt.connecting = false;
    if (!$('auth-dialog').open) $('auth-dialog').showModal();
    $('auth-connect').disabled = false;
    $('auth-status').textContent = `Cannot start connecting: ${error.message}`;
  }
}

async function openNangoConnect(prompt, sessionToken) {
  const { default: Nango } = await import('/vendor/nango-frontend/index.js');
  const nango = new Nango({ connectSessionToken: sessionToken });
  const settings = state.settings.nango;
  let finished = false;
  const ui = nango.openConnectUI({
    sessionToken,
    baseURL: settings.connectBaseUrl,
    apiURL: settings.connectApiUrl,
    onEvent: async (event) => {
      if (event.type === 'connect' && !finished) {
        finished = true;
        ui.close();
        await completeAuthorization(prompt, event.payload && event.payload.connectionId);
      } else if (event.type === 'close' && !finished) {
        finished = true;
        toast(`Connecting ${prompt.provider} was cancelled`);
        finishPrompt(prompt);
      } else if (event.type === 'error') {
        toast(`Nango Connect: ${(event.payload && event.payload.errorMessage) || 'error'}`, 'error');
      }
    },
  });
}

async function completeAuthorization(prompt, connectionId) {
  try {
    const result = await api('/api/auth/complete', {
      method: 'POST',
      body: { owner: prompt.owner, provider: prompt.provider, ...(connectionId ? { connectionId } : {}) },
    });
    if (result.usable) toast(`${prompt.provider} connected for ${prompt.owner}`);
    else toast(`${prompt.provider}: ${result.message || result.state}`, 'error');
  } catch (error) {
    toast(`Cannot finish connecting ${prompt.provider}: ${error.message}`, 'error');
  }
  finishPrompt(prompt);
  reloadStatusSoon();
}

function dismissPrompt() {
  finishPrompt();
}

// --- skills ----------------------------------------------------------------------------------------

async function loadSkills() {
  if (!state.settings.skills) {
    $('run-form').hidden = true;
    $('skills-note').textContent = 'Skills cannot run on this daemon.';
    return;
  }
  const { skills, problems } = await api('/api/skills');
  const select = $('run-skill');
  const previous = select.value;
  select.replaceChildren(...skills.map((skill) => element('option', { value: skill.name }, skill.name)));
  if (previous) select.value = previous;
  $('run-button').disabled = skills.length === 0;
  $('skills-note').textContent =
    skills.length === 0
      ? 'No skills found in the skills folder.'
      : problems.length > 0
        ? `${problems.length} skill(s) have invalid manifests: ${problems.map((p) => p.skill).join(', ')}`
        : '';
}

async function runSkill(event) {
  event.preventDefault();
  const skill = $('run-skill').value;
  const owner = $('run-owner').value.trim();
  const args = $('run-args')
    .value.split(/\s+/)
    .filter((arg) => arg !== '');
  try {
    const { runId } = await api(`/api/skills/${encodeURIComponent(skill)}/run`, {
      method: 'POST',
      body: { owner, args },
    });
    addRunPanel(runId, skill, owner);
  } catch (error) {
    toast(`Cannot run ${skill}: ${error.message}`, 'error');
  }
}

function addRunPanel(runId, skill, owner) {
  const output = element('pre', { 'aria-label': `Output of ${skill}` });
  const status = element('span', { class: 'badge waiting' }, 'starting');
  const panel = element(
    'div',
    { class: 'run', dataset: { runId } },
    element(
      'div',
      { class: 'run-head' },
      element('span', {}, element('strong', {}, skill), ` for ${owner}`),
      status,
    ),
    output,
  );
  $('runs').prepend(panel);
  const run = { output, status, lines: 0 };
  state.runs.set(runId, run);
  for (const event of state.early.get(runId) ?? []) applyRunEvent(run, event);
  state.early.delete(runId);
}

function applyRunEvent(run, event) {
  if (event.type === 'skill_started') {
    run.status.className = 'badge expiring';
    run.status.textContent = 'running';
  } else if (event.type === 'skill_output') {
    if (run.lines++ >= MAX_RUN_LINES) run.output.firstChild?.remove();
    run.output.append(element('span', { class: event.stream }, `${event.line}\n`));
    run.output.scrollTop = run.output.scrollHeight;
  } else if (event.type === 'skill_exited') {
    const ok = event.exitCode === 0;
    run.status.className = `badge ${ok ? 'connected' : 'expired'}`;
    run.status.textContent = ok ? 'finished' : `${event.reason.replace('_', ' ')} (exit ${event.exitCode})`;
  }
}

function onRunEvent(event) {
  const run = state.runs.get(event.runId);
  if (run) return applyRunEvent(run, event);
  const early = state.early.get(event.runId) ?? [];
  if (early.length < 500) early.push(event);
  state.early.set(event.runId, early);
}

// --- live events -----------------------------------------------------------------------------------

function setLive(kind, text) {
  $('live').dataset.state = kind;
  $('live').textContent = text;
}

function describeEvent(event) {
  switch (event.type) {
    case 'auth_required':
      return event.skill
        ? `Skill “${event.skill}” asked to authorize ${event.provider} for ${event.owner}`
        : `${event.provider} needs authorizing for ${event.owner}`;
    case 'token_synced':
      return `${event.provider} token synced for ${event.owner}`;
    case 'token_needs_auth':
      return `${event.provider} needs authorization for ${event.owner} (${event.reason})`;
    case 'skill_started':
      return `${event.skill} started for ${event.owner}`;
    case 'skill_exited':
      return `${event.skill} ended for ${event.owner}: ${event.reason}, exit ${event.exitCode}`;
    case 'error':
      return `${event.code}: ${event.message}`;
    default:
      return null;
  }
}

function logActivity(event) {
  const text = describeEvent(event);
  if (!text) return;
  const list = $('activity');
  list.prepend(
    element(
      'li',
      { dataset: { type: event.type } },
      element('time', { datetime: event.at }, timeOf(event.at)),
      element('span', {}, text),
    ),
  );
  while (list.children.length > MAX_ACTIVITY) list.lastChild.remove();
}

/** An OAuth callback failure for the sign-in the dialog is waiting on. */
function isFailedSignIn(event) {
  const current = state.current;
  return (
    typeof event.code === 'string' &&
    event.code.startsWith('OAUTH_') &&
    current !== null &&
    current.waiting &&
    current.provider === event.provider &&
    event.owner === current.owner
  );
}

function onEvent(event) {
  logActivity(event);
  switch (event.type) {
    case 'auth_required':
      promptConnect({
        owner: event.owner,
        provider: event.provider,
        scopes: event.scopes,
        skill: event.skill,
      });
      break;
    case 'token_synced':
      // The popup flow (built-in OAuth) ends here; the Connect UI flow ends when its call returns;
      // an offer nobody took up yet is moot once the token is there.
      if (sameTarget(state.current, event) && !state.current.connecting) {
        if (state.current.waiting) toast(`${event.provider} connected for ${event.owner}`);
        finishPrompt();
      }
      state.prompts = state.prompts.filter((prompt) => !sameTarget(prompt, event));
      reloadStatusSoon();
      break;
    case 'token_needs_auth':
      reloadStatusSoon();
      break;
    case 'skill_started':
    case 'skill_output':
    case 'skill_exited':
      onRunEvent(event);
      break;
    case 'error':
      if (event.skill) loadSkills().catch(() => {});
      if (isFailedSignIn(event)) {
        // The popup's sign-in ended without a token (denied, expired): let the user try again.
        state.current.waiting = false;
        $('auth-connect').disabled = false;
        $('auth-connect').textContent = 'Try again';
        $('auth-status').textContent = `It did not connect: ${event.message}`;
      }
      break;
  }
}

function connectEvents() {
  state.events?.close();
  const source = new EventSource('/api/events');
  state.events = source;
  let wasDown = false;
  source.addEventListener('open', () => {
    setLive('live', 'live');
    // What happened while we were away is in the replay; the table is reloaded to be sure.
    if (wasDown) reloadStatusSoon();
    wasDown = false;
  });
  source.addEventListener('error', () => {
    wasDown = true;
    setLive(
      source.readyState === EventSource.CLOSED ? 'offline' : 'connecting',
      source.readyState === EventSource.CLOSED ? 'offline' : 'reconnecting…',
    );
    if (source.readyState === EventSource.CLOSED) {
      // Closed for good (logged out, or the daemon went away): check which, then retry.
      setTimeout(() => api('/api/settings').then(connectEvents, () => {}), 3000);
    }
  });
  source.addEventListener('gap', () => reloadStatusSoon());
  for (const type of EVENT_TYPES) {
    source.addEventListener(type, (message) => {
      try {
        onEvent(JSON.parse(message.data));
      } catch (error) {
        console.error('bad event', error);
      }
    });
  }
}

// --- start -----------------------------------------------------------------------------------------

async function start() {
  state.settings = await api('/api/settings');
  $('login').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  connectEvents();
  await Promise.all([loadStatus(), loadSkills()]);
  // A skill may have asked before this page was open: offer what is still unanswered.
  for (const prompt of state.status?.pendingAuth ?? []) promptConnect(prompt);
}

function init() {
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  $('auth-connect').addEventListener('click', connectCurrent);
  $('auth-later').addEventListener('click', dismissPrompt);
  $('auth-dialog').addEventListener('cancel', (event) => {
    event.preventDefault();
    dismissPrompt();
  });
  $('run-form').addEventListener('submit', runSkill);
  window.setInterval(tickExpiries, 1000);

  const params = new window.URLSearchParams(window.location.search);
  if (params.get('login') === 'expired') {
    window.history.replaceState(null, '', '/');
    showLogin('That login link was already used or has expired. Paste the API token instead.');
    return;
  }
  start().catch((error) => {
    if (!(error instanceof ApiError && error.status === 401)) toast(`Cannot load: ${error.message}`, 'error');
  });
}

init();
