/* geomonitor report: draws the plotly figures, sorts and filters the dependency table,
   and charts the selected product. Reads only the JSON embedded in the page. */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("report-data").textContent);
  var CONFIG = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["select2d", "lasso2d"] };
  var pending = [];

  function copy(obj) { return JSON.parse(JSON.stringify(obj)); }

  function money(value, currency) {
    if (value === null || value === undefined) { return "–"; }
    var sizes = [[1e9, "bn"], [1e6, "m"], [1e3, "k"]];
    for (var i = 0; i < sizes.length; i++) {
      if (Math.abs(value) >= sizes[i][0]) {
        return currency + " " + Number((value / sizes[i][0]).toPrecision(3)) + " " + sizes[i][1];
      }
    }
    return currency + " " + Math.round(value);
  }

  /* fixed figures */
  document.querySelectorAll("[data-figure]").forEach(function (div) {
    var spec = DATA.figures[div.dataset.figure];
    pending.push(Plotly.newPlot(div, spec.data, spec.layout, CONFIG));
  });

  /* supplier-loss picker: show the chosen supplier's panel */
  var lossPicker = document.getElementById("loss-supplier");
  if (lossPicker) {
    lossPicker.addEventListener("change", function () {
      document.querySelectorAll(".loss-panel").forEach(function (panel) {
        panel.hidden = panel.dataset.supplier !== lossPicker.value;
      });
    });
  }

  /* rolling 12 months: the picker redraws the chart with the chosen product's figure */
  var rollingPicker = document.getElementById("rolling-select");
  if (rollingPicker) {
    rollingPicker.addEventListener("change", function () {
      var p = DATA.rolling.products[rollingPicker.value];
      var layout = copy(DATA.rolling.layout);
      layout.title = { text: p.title, x: 0, xanchor: "left" };
      Plotly.react("rolling-comext", copy(p.data), layout, CONFIG);
    });
  }

  function markReady() {
    Promise.all(pending).then(function () {
      window.geomonitorReport.readyAfterMs = Math.round(performance.now());
      document.documentElement.dataset.reportReady = "true";
    }, function (err) {
      document.documentElement.dataset.reportReady = "error";
      console.error("report: a chart failed to render", err);
    });
  }

  /* dependency table: filter and sort (the public edition has none) */
  var table = document.getElementById("dependency-table");
  if (!table) { window.geomonitorReport = {}; markReady(); return; }
  var tbody = table.tBodies[0];
  var form = document.getElementById("filters");
  var countLabel = document.getElementById("row-count");

  function applyFilters() {
    var source = (form.querySelector("input[name=source]:checked") || {}).value || "";
    var reporter = form.elements.reporter.value;
    var domain = form.elements.domain.value;
    var dependentNow = form.elements.dependent_now.checked;
    var q = form.elements.q.value.trim().toLowerCase();
    var shown = 0, total = 0;
    Array.prototype.forEach.call(tbody.rows, function (tr) {
      if (tr.dataset.source === source) { total++; }
      var ok = tr.dataset.source === source &&
        (!reporter || tr.dataset.reporter === reporter) &&
        (!domain || tr.dataset.domain === domain) &&
        (!dependentNow || tr.dataset.dependent === "true") &&
        (!q || searchText(tr).indexOf(q) >= 0);
      tr.hidden = !ok;
      if (ok) { shown++; }
    });
    countLabel.textContent = shown + " of " + total + " rows";
    var head = table.querySelector(".value-head");
    head.textContent = "Extra-EU imports (" + (DATA.currencies[source] || "") + ")";
  }

  function searchText(tr) {
    if (tr._search === undefined) { tr._search = (tr.textContent + " " + tr.dataset.names).toLowerCase(); }
    return tr._search;
  }

  function cellValue(tr, index, type) {
    var td = tr.cells[index];
    var raw = td.dataset.v !== undefined ? td.dataset.v : td.textContent.trim();
    if (type === "num") { return raw === "" ? null : parseFloat(raw); }
    return raw.toLowerCase();
  }

  function sortBy(th, direction) {
    var index = th.cellIndex, type = th.dataset.type;
    var rows = Array.prototype.slice.call(tbody.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index, type), y = cellValue(b, index, type);
      if (x === null && y === null) { return 0; }
      if (x === null) { return 1; }   /* blanks last, whatever the direction */
      if (y === null) { return -1; }
      var c = type === "num" ? x - y : x.localeCompare(y);
      return direction === "ascending" ? c : -c;
    });
    rows.forEach(function (tr) { tbody.appendChild(tr); });
    table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", direction);
  }

  table.querySelectorAll("th").forEach(function (th) {
    th.querySelector("button").addEventListener("click", function () {
      var next = th.getAttribute("aria-sort") === "descending" ? "ascending" : "descending";
      if (th.dataset.type === "text" && !th.hasAttribute("aria-sort")) { next = "ascending"; }
      sortBy(th, next);
    });
  });
  form.addEventListener("input", applyFilters);
  form.addEventListener("change", applyFilters);

  /* product charts */
  var select = document.getElementById("product-select");
  var T = DATA.templates;

  function sharesFigure(p) {
    var layout = copy(T.shares_layout);
    layout.title = { text: "Non-EU suppliers' shares · " + p.reporter_label + " · " + p.source_label,
      x: 0, xanchor: "left" };
    if (!p.shares) {
      layout.annotations = [{ text: "no supplier breakdown for this product", showarrow: false,
        xref: "paper", yref: "paper", x: 0.5, y: 0.5 }];
      return { data: [], layout: layout };
    }
    /* the "other" bar only where some year has other suppliers */
    var withOther = p.shares.years.some(function (y) { return y.other > 0.0005; });
    var names = p.shares.supplier_names.concat(withOther ? [p.shares.other_label] : []);
    var colors = T.year_colors.slice(-p.shares.years.length);
    var data = p.shares.years.map(function (y, i) {
      var trace = copy(T.share_bar);
      trace.name = String(y.year);
      trace.x = names;
      trace.y = y.shares.concat(withOther ? [y.other] : []);
      trace.marker = { color: colors[i] };
      trace.customdata = trace.y.map(function (s) {
        return money(s * y.total, p.currency) + " of " + money(y.total, p.currency) + " from " + y.n_suppliers +
          " non-EU supplier(s)";
      });
      return trace;
    });
    return { data: data, layout: layout };
  }

  function hhiFigure(p) {
    var layout = copy(T.hhi_layout);
    layout.title = { text: "HHI over the years · " + p.reporter_label + " · " + p.source_label, x: 0, xanchor: "left" };
    var h = p.history.filter(function (r) { return r.hhi !== null; });
    var years = h.map(function (r) { return r.year; });
    var line = copy(T.hhi_line);
    line.x = years;
    line.y = h.map(function (r) { return r.hhi; });
    line.customdata = h.map(function (r) {
      return (r.dependent ? "DEPENDENT (C1-C3)" : "not dependent") + "<br>top supplier " + r.top + " " +
        Math.round(100 * r.top_share) + "%, " + r.n + " supplier(s)<br>extra-EU imports " + money(r.m_extra, p.currency) +
        (r.months < 12 ? "<br>" + r.months + " months only" : "");
    });
    line.marker = copy(line.marker);
    line.marker.color = h.map(function (r) { return r.dependent ? T.dependent_marker.color : T.hhi_line.line.color; });
    line.marker.symbol = h.map(function (r) { return r.dependent ? T.dependent_marker.symbol : "circle"; });
    var top = copy(T.top_share_line);
    top.x = years;
    top.y = h.map(function (r) { return r.top_share; });
    var threshold = copy(T.threshold_line);
    threshold.x = years.length ? [years[0] - 0.3, years[years.length - 1] + 0.3] : [];
    threshold.y = years.length ? [h[0].c1, h[0].c1] : [];
    threshold.name = "C1 threshold (" + (years.length ? h[0].c1 : "") + ")";
    layout.xaxis.range = years.length ? [years[0] - 0.5, years[years.length - 1] + 0.5] : undefined;
    return { data: [threshold, top, line], layout: layout };
  }

  function showProduct(key) {
    var p = DATA.products[key];
    if (!p) { return Promise.resolve(); }
    select.value = key;
    Array.prototype.forEach.call(tbody.rows, function (tr) { tr.classList.toggle("selected", tr.dataset.key === key); });
    document.getElementById("product-title").textContent = p.reporter_label + " · " + p.label;
    var caveat = document.getElementById("product-caveat");
    caveat.hidden = !p.caveat;
    caveat.textContent = p.caveat ? "Caveat: " + p.caveat + "." : "";
    var flagged = p.history.filter(function (r) { return r.dependent; }).map(function (r) { return r.year; });
    document.getElementById("product-note").textContent = p.reporter_label + ", " + p.label + " (" + p.source_label +
      "): dependent in " + (flagged.length ? flagged.join(", ") : "no year") + ".";
    var s = sharesFigure(p), h = hhiFigure(p);
    return Promise.all([
      Plotly.react("chart-shares", s.data, s.layout, CONFIG),
      Plotly.react("chart-hhi", h.data, h.layout, CONFIG)
    ]);
  }

  Object.keys(DATA.products).sort().forEach(function (key) {
    var p = DATA.products[key];
    var option = document.createElement("option");
    option.value = key;
    option.textContent = p.source_label + " · " + p.reporter_label + " · " + p.label.slice(0, 90);
    select.appendChild(option);
  });
  select.addEventListener("change", function () { showProduct(select.value); });
  tbody.addEventListener("click", function (event) {
    var tr = event.target.closest("tr");
    if (tr) { showProduct(tr.dataset.key); }
  });
  tbody.addEventListener("keydown", function (event) {
    var tr = event.target.closest("tr");
    if (tr && (event.key === "Enter" || event.key === " ")) { event.preventDefault(); showProduct(tr.dataset.key); }
  });

  window.geomonitorReport = { showProduct: showProduct, applyFilters: applyFilters };
  var initialSort = table.querySelector("th[aria-sort]");
  if (initialSort) { sortBy(initialSort, initialSort.getAttribute("aria-sort")); }
  applyFilters();
  if (DATA.initial_product) { pending.push(showProduct(DATA.initial_product)); }

  markReady();
})();
