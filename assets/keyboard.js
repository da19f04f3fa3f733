/* Enter or Space on a focused cell of a grid that opens charts (the summary table, the
   neighbourhoods table) does what a click does: AG Grid only reports clicks, so without this
   opening a chart from the summary would be mouse-only. */
(function () {
  var OPENS_CHART = '[id$="-summary"] .ag-cell, [id$="-drill"] .ag-cell';
  document.addEventListener('keydown', function (event) {
    if (event.key !== 'Enter' && event.key !== ' ') { return; }
    var cell = event.target && event.target.closest ? event.target.closest(OPENS_CHART) : null;
    if (!cell) { return; }
    event.preventDefault();
    cell.click();
  }, true);
})();

/* A grid's skip link (dashboard/components.py skip_link) moves focus to the element just after
   the grid. Handled here rather than by the "#..." address so the page's URL (which holds the
   view) is not changed and no Dash location callback fires. */
(function () {
  document.addEventListener('click', function (event) {
    var link = event.target && event.target.closest ? event.target.closest('a[data-skip-to]') : null;
    if (!link) { return; }
    var target = document.getElementById(link.getAttribute('data-skip-to'));
    if (!target) { return; }
    event.preventDefault();
    target.focus({preventScroll: true});
    target.scrollIntoView({block: 'nearest'});
  }, true);
})();
