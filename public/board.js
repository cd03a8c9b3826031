// The message board page: plain DOM and fetch over the site's JSON API. The session cookie is
// HttpOnly, so this script never sees it; the browser sends it with each request.
'use strict';

const $ = (id) => document.getElementById(id);

function say(text, isError = false) {
  const el = $('status');
  el.textContent = text;
  el.className = isError ? 'error' : '';
}

/** Calls the API; resolves with [status, body]. */
async function api(method, path, body) {
  const init = { method, headers: {}, credentials: 'same-origin' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  let data = {};
  try {
    data = await res.json();
  } catch {
    data = { error: `${res.status} ${res.statusText}` };
  }
  return [res.status, data];
}

function show(username) {
  $('account').hidden = username !== undefined;
  $('board').hidden = username === undefined;
  $('me').textContent = username ?? '';
}

function render(messages) {
  const list = $('messages');
  list.replaceChildren(
    ...messages.map((m) => {
      const li = document.createElement('li');
      const who = document.createElement('strong');
      who.textContent = m.author;
      const when = document.createElement('time');
      when.dateTime = new Date(m.at).toISOString();
      when.textContent = new Date(m.at).toLocaleString();
      const text = document.createElement('p');
      text.textContent = m.text; // text, never HTML: posts cannot inject markup
      li.append(who, ' ', when, text);
      return li;
    }),
  );
}

async function refresh() {
  const [status, data] = await api('GET', '/api/messages');
  if (status === 200) render(data.messages);
  else if (status === 401) show(undefined);
  else say(data.error, true);
}

async function start() {
  const [status, data] = await api('GET', '/api/me');
  if (status === 200) {
    show(data.username);
    await refresh();
  } else {
    show(undefined);
    if (status !== 401) say(data.error, true);
  }
}

function credentials() {
  return { username: $('username').value, password: $('password').value };
}

$('auth').addEventListener('submit', async (e) => {
  e.preventDefault();
  const [status, data] = await api('POST', '/api/login', credentials());
  if (status !== 200) return say(data.error, true);
  $('password').value = '';
  say(`Welcome, ${data.username}.`);
  show(data.username);
  await refresh();
});

$('register').addEventListener('click', async () => {
  const [status, data] = await api('POST', '/api/register', credentials());
  if (status !== 201) return say(data.error, true);
  say(`Registered ${data.username}: now log in.`);
});

$('logout').addEventListener('click', async () => {
  await api('POST', '/api/logout');
  say('Logged out.');
  show(undefined);
});

$('post').addEventListener('submit', async (e) => {
  e.preventDefault();
  const [status, data] = await api('POST', '/api/messages', { text: $('text').value });
  if (status !== 201) return say(data.error, true);
  $('text').value = '';
  say('Posted.');
  await refresh();
});

start().catch((err) => say(String(err), true));
