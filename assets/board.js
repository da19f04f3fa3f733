/* Keys for the board view (present=1 on a trend tab, and MARAC): step through the month's Current Issues.
   Right arrow, N or Page Down: next; Left arrow, P or Page Up: previous (a presenter's clicker
   sends Page Down / Page Up); L: open or close the list of issues; Escape closes it.
   The keys press the view's own buttons, so mouse, keyboard and clicker do the same thing.
   A file, not an inline script: the Content-Security-Policy allows no inline script (docs/security.md). */
/* The board chart is drawn on the server for the screen's width (a phone gets smaller text and
   the key under the months): this tells the page's callbacks the width, once, on a board view. */
window.dash_clientside = window.dash_clientside || {};
window.dash_clientside.board = {
  width: function (board) {
    // Every trend page calls this once: mark <body> while a board view is shown (assets/board.css).
    document.body.classList.toggle('board-open', board === true);
    return board === true ? window.innerWidth : window.dash_clientside.no_update;
  }
};
// Back from a board view to a page that is not a trend tab: unmark once the page has drawn.
var BOARD_CHECK_AFTER_MS = 800;
window.addEventListener('popstate', function () {
  setTimeout(function () {
    if (!document.querySelector('.board-view')) { document.body.classList.remove('board-open'); }
  }, BOARD_CHECK_AFTER_MS);
});

(function () {
  var NEXT = { ArrowRight: true, PageDown: true, n: true, N: true };
  var PREVIOUS = { ArrowLeft: true, PageUp: true, p: true, P: true };
  var TYPING = 'input, select, textarea, [contenteditable="true"]';

  function press(suffix) {
    var button = document.querySelector('.board-view [id$="' + suffix + '"]');
    if (button && !button.disabled) { button.click(); return true; }
    return false;
  }

  /* A view with nothing to walk (MARAC: no Current Issues) says so in its bar; a walk key
     points at that sentence rather than doing nothing. */
  var NUDGE_MS = 1500;
  function nudge(view) {
    var key = view.querySelector('.board-no-walk');
    if (!key) { return; }
    key.classList.add('board-nudge');
    setTimeout(function () { key.classList.remove('board-nudge'); }, NUDGE_MS);
  }

  /* After the area (or measure) is chosen, give the keys back to the walk: a focused <select>
     would otherwise take the arrow keys and change the area again. */
  document.addEventListener('change', function (event) {
    var target = event.target;
    if (target && target.tagName === 'SELECT' && target.closest && target.closest('.board-view')) { target.blur(); }
  });

  document.addEventListener('keydown', function (event) {
    var view = document.querySelector('.board-view');
    if (!view || event.altKey || event.ctrlKey || event.metaKey) { return; }
    var target = event.target;
    if (target && target.closest && target.closest(TYPING)) { return; }
    var list = view.querySelector('details.board-list');
    if (NEXT[event.key]) {
      if (!press('-board-next')) { nudge(view); }
      event.preventDefault();
    } else if (PREVIOUS[event.key]) {
      if (!press('-board-prev')) { nudge(view); }
      event.preventDefault();
    } else if ((event.key === 'l' || event.key === 'L') && list) {
      list.open = !list.open;
      event.preventDefault();
    } else if (event.key === 'Escape' && list && list.open) {
      list.open = false;
      event.preventDefault();
    }
  });
})();
