// The console's only script: progressive enhancement. Without it every page is complete; with
// it, relative times stay current and the overview refreshes its data in place.
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

  function updateTimes(root) {
    for (const el of root.querySelectorAll('time[datetime]')) {
      const at = Date.parse(el.getAttribute('datetime'));
      if (!Number.isNaN(at)) el.textContent = relative(Date.now() - at);
    }
  }

  function startRefreshing(live) {
    const seconds = Number(live.dataset.refreshSeconds);
    const source = live.dataset.source;
    if (!source || !(seconds > 0)) return;
    let current = live;
    async function refresh() {
      try {
        const response = await fetch(source, { headers: { accept: 'text/html' }, cache: 'no-store' });
        const doc = new DOMParser().parseFromString(await response.text(), 'text/html');
        const next = doc.getElementById('live');
        if (!next) throw new Error('no live data in the answer');
        current.replaceWith(next);
        current = next;
      } catch (err) {
        const status = current.querySelector('#live-status');
        if (status) status.textContent = 'Could not refresh; trying again in ' + seconds + ' s.';
      }
      setTimeout(refresh, seconds * 1000);
    }
    setTimeout(refresh, seconds * 1000);
  }

  function start() {
    updateTimes(document);
    setInterval(function () { updateTimes(document); }, 30000);
    const live = document.getElementById('live');
    if (live) startRefreshing(live);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
