/* Before printing, lay charts and tables out for the page, not the screen: Plotly charts
   keep the pixel width they were drawn at and AG Grid only draws the rows in view, so
   both are redrawn at the printed width (grids in AG Grid's print layout, every row in
   normal flow so the print stylesheet can keep rows whole), then restored afterwards. */
(function () {
  var PRINT_WIDTH_PX = 700; // A4 (210 mm) less 2 x 12 mm margins, at 96 px per inch
  var saved = [];

  function beforePrint() {
    if (saved.length) { return; }
    document.querySelectorAll('.js-plotly-plot').forEach(function (el) {
      if (!window.Plotly || !el.layout) { return; }
      saved.push({chart: el, width: el.layout.width, autosize: el.layout.autosize});
      Plotly.relayout(el, {width: PRINT_WIDTH_PX, autosize: false});
    });
    document.querySelectorAll('.ag-root-wrapper').forEach(function (root) {
      var holder = root.closest('[id]');
      var api = null;
      if (holder && window.dash_ag_grid && dash_ag_grid.getApi) {
        try { api = dash_ag_grid.getApi(holder.id); } catch (e) { api = null; }
      }
      if (!api) { return; }
      saved.push({grid: api, holder: holder, layout: api.getGridOption('domLayout'), zoom: holder.style.zoom});
      api.setGridOption('domLayout', 'print');
      // Columns have minimum widths for the screen; a table wider than the page is scaled
      // down to fit it whole rather than cut after a column.
      var wide = root.scrollWidth;
      if (wide > PRINT_WIDTH_PX) { holder.style.zoom = String(PRINT_WIDTH_PX / wide); }
    });
  }

  function afterPrint() {
    saved.forEach(function (item) {
      if (item.chart) { Plotly.relayout(item.chart, {width: item.width || null, autosize: item.autosize !== false}); }
      if (item.grid) { item.grid.setGridOption('domLayout', item.layout || 'normal'); item.holder.style.zoom = item.zoom || ''; }
    });
    saved = [];
  }

  window.addEventListener('beforeprint', beforePrint);
  window.addEventListener('afterprint', afterPrint);
  if (window.matchMedia) {
    var query = window.matchMedia('print');
    var listener = function (event) { if (event.matches) { beforePrint(); } else { afterPrint(); } };
    if (query.addEventListener) { query.addEventListener('change', listener); } else if (query.addListener) { query.addListener(listener); }
  }
  window.cspPrepareForPrint = beforePrint; // for headless printing, which may not fire beforeprint
  window.cspAfterPrint = afterPrint;
})();
