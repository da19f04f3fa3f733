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
