// The experiment form: once an input changes, the plan summary no longer describes the form.
(function () {
  var form = document.getElementById("experiment-form");
  var summary = document.getElementById("plan-summary");
  function stale() {
    summary.classList.add("stale");
    summary.querySelector(".stale-note").hidden = false;
  }
  form.addEventListener("input", stale);
  form.addEventListener("change", stale);
})();
