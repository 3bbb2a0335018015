// The console's only script: progressive enhancement. Without it every page is complete; with
// it, times stay current and can be shown exact (in UTC or the reader's time zone), and the
// overview refreshes its data in place without taking the reader's focus, announces what
// changed politely, and can be paused (WCAG 2.2.2).
'use strict';

(function () {
  // The same wording as the server's `time::relative`.
  function relative(elapsedMs) {
    const secs = Math.floor(elapsedMs / 1000);
    if (secs < 10) return 'just now';
    if (secs < 60) return secs + ' s ago';
    if (secs < 3600) return Math.floor(secs / 60) + ' min ago';
    if (secs < 172800) return Math.floor(secs / 3600) + ' h ago';
    return Math.floor(secs / 86400) + ' days ago';
  }

  const two = (n) => String(n).padStart(2, '0');

  // "2026-12-05 09:30:00 UTC", or the same in the reader's zone with its short name.
  function exact(at, local) {
    const d = new Date(at);
    if (!local) {
      return d.getUTCFullYear() + '-' + two(d.getUTCMonth() + 1) + '-' + two(d.getUTCDate()) + ' ' +
        two(d.getUTCHours()) + ':' + two(d.getUTCMinutes()) + ':' + two(d.getUTCSeconds()) + ' UTC';
    }
    const zone = new Intl.DateTimeFormat('en', { timeZoneName: 'short' })
      .formatToParts(d).find((p) => p.type === 'timeZoneName');
    return d.getFullYear() + '-' + two(d.getMonth() + 1) + '-' + two(d.getDate()) + ' ' +
      two(d.getHours()) + ':' + two(d.getMinutes()) + ':' + two(d.getSeconds()) +
      ' ' + (zone ? zone.value : '');
  }

  // How times read: 'relative' (the default), 'utc' or 'local'; the reader's choice is kept.
  const FORMATS = ['relative', 'utc', 'local'];
  function storedFormat() {
    try {
      const kept = window.localStorage.getItem('time-format');
      return FORMATS.includes(kept) ? kept : 'relative';
    } catch (err) {
      return 'relative';
    }
  }
  let format = storedFormat();

  function updateTimes(root) {
    for (const el of root.querySelectorAll('time[datetime]')) {
      const at = Date.parse(el.getAttribute('datetime'));
      if (Number.isNaN(at)) continue;
      el.textContent = format === 'relative' ? relative(Date.now() - at) : exact(at, format === 'local');
    }
  }

  function offerTimeFormats() {
    const choice = document.getElementById('time-choice');
    const select = document.getElementById('time-format');
    if (!choice || !select) return;
    select.value = format;
    choice.hidden = false;
    select.addEventListener('change', function () {
      format = FORMATS.includes(select.value) ? select.value : 'relative';
      try { window.localStorage.setItem('time-format', format); } catch (err) { /* private mode */ }
      updateTimes(document);
    });
  }

  // Where the focus was inside the live region, in terms the next copy of it can match: the
  // element's tag, its link or id, and its position among the same.
  function focusKey(live, el) {
    const tag = el.tagName;
    const same = (candidate) => candidate.tagName === tag &&
      candidate.getAttribute('href') === el.getAttribute('href') && candidate.id === el.id;
    const matches = Array.from(live.querySelectorAll(tag)).filter(same);
    return { tag, href: el.getAttribute('href'), id: el.id, index: matches.indexOf(el) };
  }

  function restoreFocus(live, key) {
    const matches = Array.from(live.querySelectorAll(key.tag)).filter((candidate) =>
      candidate.getAttribute('href') === key.href && candidate.id === key.id);
    // The same element if it is still there, else the region, never the page's <body>.
    const target = matches[Math.min(key.index, matches.length - 1)] || live;
    target.focus({ preventScroll: true });
  }

  // The live region's text without its "data as of" line, to tell a change from a refresh.
  function meaning(live) {
    const copy = live.cloneNode(true);
    const status = copy.querySelector('#live-status');
    if (status) status.remove();
    // Times read by their instant: "1 min ago" then "2 min ago" is not news.
    for (const time of copy.querySelectorAll('time[datetime]')) time.textContent = time.getAttribute('datetime');
    return copy.textContent.replace(/\s+/g, ' ').trim();
  }

  function startRefreshing(live) {
    const seconds = Number(live.dataset.refreshSeconds);
    const source = live.dataset.source;
    if (!source || !(seconds > 0)) return;
    const controls = document.getElementById('live-controls');
    const pause = document.getElementById('live-pause');
    const announcer = document.getElementById('live-announcer');
    let paused = false;
    if (controls && pause) {
      controls.hidden = false;
      pause.addEventListener('click', function () {
        paused = !paused;
        pause.setAttribute('aria-pressed', String(paused));
        pause.textContent = paused ? 'Resume updates' : 'Pause updates';
        if (announcer) announcer.textContent = paused ? 'Updates paused.' : 'Updates resumed.';
      });
    }
    let current = live;
    async function refresh() {
      if (!paused) {
        try {
          const response = await fetch(source, { headers: { accept: 'text/html' }, cache: 'no-store' });
          const doc = new DOMParser().parseFromString(await response.text(), 'text/html');
          const next = doc.getElementById('live');
          if (!next) throw new Error('no live data in the answer');
          const active = document.activeElement;
          const key = active && active !== current && current.contains(active) ? focusKey(current, active) : null;
          const changed = meaning(current) !== meaning(next);
          updateTimes(next);
          current.replaceWith(next);
          current = next;
          if (key) restoreFocus(current, key);
          if (changed && announcer) announcer.textContent = 'The overview has new data.';
        } catch (err) {
          const status = current.querySelector('#live-status');
          if (status) status.textContent = 'Could not refresh; trying again in ' + seconds + ' s.';
        }
      }
      setTimeout(refresh, seconds * 1000);
    }
    setTimeout(refresh, seconds * 1000);
  }

  function start() {
    offerTimeFormats();
    updateTimes(document);
    setInterval(function () { updateTimes(document); }, 30000);
    const live = document.getElementById('live');
    if (live) startRefreshing(live);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
