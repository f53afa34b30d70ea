// Draws every <div data-figure="ID"> with the Plotly figure in <script id="ID">.
(function () {
  document.querySelectorAll("[data-figure]").forEach(function (el) {
    var source = document.getElementById(el.dataset.figure);
    if (!source || !window.Plotly) return;
    var figure = JSON.parse(source.textContent);
    Plotly.newPlot(el, figure.data, figure.layout, { responsive: true, displaylogo: false });
  });
})();
