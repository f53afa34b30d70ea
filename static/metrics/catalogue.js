/* Filter the catalogue as you type; the form still searches on the server (?q=) on Enter. */
(function () {
  "use strict";
  var input = document.querySelector("[data-filter-input]");
  if (!input) return;
  var empty = document.querySelector("[data-filter-empty]");
  input.addEventListener("input", function () {
    var words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    document.querySelectorAll("[data-filter-group]").forEach(function (group) {
      var inGroup = 0;
      group.querySelectorAll("[data-filter-item]").forEach(function (row) {
        var text = row.dataset.search;
        var match = words.every(function (w) { return text.indexOf(w) !== -1; });
        row.hidden = !match;
        if (match) inGroup++;
      });
      group.hidden = inGroup === 0;
      shown += inGroup;
    });
    if (empty) empty.hidden = shown !== 0;
  });
})();
