// cueapi dashboard: live cron preview and the live feed. No inline script
// is allowed by the page's Content-Security-Policy; everything is here.
(function () {
  'use strict';

  function $(id) { return document.getElementById(id); }

  function debounce(fn, ms) {
    var t = null;
    return function () {
      if (t) { clearTimeout(t); }
      t = setTimeout(fn, ms);
    };
  }

  // ---- cron preview (create/edit form) ----
  function setupPreview() {
    var cron = $('cron'), tz = $('timezone'), type = $('schedule_type'), box = $('cron-preview');
    if (!cron || !tz || !type || !box) { return; }
    var list = $('cron-times'), err = $('cron-error'), words = $('cron-words');
    var seq = 0;
    function update() {
      box.hidden = type.value !== 'recurring';
      if (box.hidden) { return; }
      var mine = ++seq;
      var q = new URLSearchParams({ cron: cron.value, tz: tz.value });
      fetch('/dashboard/api/cron-preview?' + q.toString(), { credentials: 'same-origin', headers: { 'Accept': 'application/json' } })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          if (mine !== seq) { return; }
          list.replaceChildren();
          (data.times || []).forEach(function (t) {
            var li = document.createElement('li');
            li.textContent = t;
            list.appendChild(li);
          });
          err.textContent = data.error || '';
          words.textContent = data.words || '';
        })
        .catch(function () { if (mine === seq) { err.textContent = 'Preview unavailable.'; } });
    }
    var later = debounce(update, 200);
    cron.addEventListener('input', later);
    tz.addEventListener('input', later);
    type.addEventListener('change', update);
    update();
  }

  // ---- live feed ----
  function refreshRegions() {
    var active = document.activeElement;
    fetch(location.href, { credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var doc = new DOMParser().parseFromString(html, 'text/html');
        document.querySelectorAll('[data-live-region][id]').forEach(function (old) {
          if (active && old.contains(active) && active.tagName === 'INPUT') { return; }
          var fresh = doc.getElementById(old.id);
          if (fresh) { old.replaceWith(document.adoptNode(fresh)); }
        });
        document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
      })
      .catch(function () { /* the next event retries */ });
  }

  function setupLive() {
    if (document.body.dataset.live !== '1' || !window.EventSource) { return; }
    var feed = $('feed'), state = $('live-state');
    var refresh = debounce(refreshRegions, 250);
    var es = new EventSource('/dashboard/events');
    es.onopen = function () { state.textContent = 'live'; state.className = 'badge ok'; };
    es.onerror = function () { state.textContent = 'reconnecting'; state.className = 'badge wait'; };
    es.onmessage = function (ev) {
      var it;
      try { it = JSON.parse(ev.data); } catch (e) { return; }
      var li = document.createElement('li');
      li.className = 'feed-' + (it.kind || 'x');
      var time = document.createElement('span');
      time.className = 'muted';
      time.textContent = it.at + ' ';
      var name = document.createElement(it.cue_id ? 'a' : 'span');
      if (it.cue_id) { name.href = '/dashboard/cues/' + encodeURIComponent(it.cue_id); }
      name.textContent = it.cue_name || it.cue_id || it.kind;
      var b = document.createElement('span');
      b.className = 'badge ' + (it.class || 'none');
      b.textContent = it.text + (it.http_status ? ' · HTTP ' + it.http_status : '');
      li.append(time, name, ' ', b);
      li.dataset.kind = it.kind;
      if (it.status) { li.dataset.status = it.status; }
      feed.prepend(li);
      while (feed.children.length > 50) { feed.lastElementChild.remove(); }
      refresh();
    };
    window.addEventListener('pagehide', function () { es.close(); });
  }

  // ---- magic link landing: /dashboard/login#auth={"sessionToken":…} ----
  function setupMagicLink() {
    var form = $('magic'), field = $('session_token');
    if (!form || !field || location.hash.indexOf('#auth=') !== 0) { return; }
    var auth = null;
    try { auth = JSON.parse(decodeURIComponent(location.hash.slice(6))); } catch (e) { auth = null; }
    // The token leaves the address bar before anything else happens.
    history.replaceState(null, '', location.pathname);
    if (auth && typeof auth.sessionToken === 'string') {
      field.value = auth.sessionToken;
      form.submit();
    }
  }

  document.addEventListener('DOMContentLoaded', function () {
    setupMagicLink();
    window.addEventListener('hashchange', setupMagicLink);
    setupPreview();
    setupLive();
  });
})();
