/* Readable month labels on a phone. A trend chart labels all twelve months ("Apr<br>2026"),
   which fits a desktop card but runs together under NARROW_PX: there, keep every month's tick
   but label every third one (a quarter), so the labels stay horizontal and legible. Plotly
   figures come from the server already laid out, and only the browser knows the width, so
   this is done here, after each draw (Dash redraws with Plotly.react, which puts the full
   labels back, so each draw is checked again). */
(function () {
  var NARROW_PX = 600;
  var EVERY = 3;
  var LEGEND_Y = -0.28;  // below the two-line month labels, which the desktop position would cover

  function thin(gd) {
    var axis = gd.layout && gd.layout.xaxis;
    if (!axis || !Array.isArray(axis.ticktext) || axis.ticktext.length <= EVERY * 2) { return; }
    if (gd.clientWidth >= NARROW_PX) { return; }
    var crowded = axis.ticktext.some(function (text, i) { return i % EVERY !== 0 && text; });
    if (!crowded) { return; }
    var labels = axis.ticktext.map(function (text, i) { return i % EVERY === 0 ? text : ''; });
    var update = {'xaxis.ticktext': labels, 'xaxis.tickangle': 0};
    if (gd.layout.legend && gd.layout.legend.y > LEGEND_Y) { update['legend.y'] = LEGEND_Y; }
    window.Plotly.relayout(gd, update);
  }

  function hook(gd) {
    if (gd._cspPhoneHooked || typeof gd.on !== 'function') { return; }
    gd._cspPhoneHooked = true;
    gd.on('plotly_afterplot', function () { thin(gd); });
    thin(gd);
  }

  function hookAll() {
    document.querySelectorAll('.js-plotly-plot').forEach(hook);
  }

  new MutationObserver(hookAll).observe(document.documentElement, {childList: true, subtree: true});
  window.addEventListener('resize', function () { document.querySelectorAll('.js-plotly-plot').forEach(thin); });
})();
