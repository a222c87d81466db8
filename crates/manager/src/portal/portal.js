// smartlic portal: copy buttons, confirmations, and file pickers that fill a text area (the
// satellite exchange files); the portal works without it (paste instead).
document.addEventListener("click", function (e) {
  var b = e.target.closest("[data-copy]");
  if (!b) return;
  var el = document.getElementById(b.getAttribute("data-copy"));
  if (el && navigator.clipboard) {
    navigator.clipboard.writeText(el.textContent).then(function () { b.textContent = "Copied"; });
  }
});
document.addEventListener("submit", function (e) {
  var msg = e.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) e.preventDefault();
});
document.addEventListener("change", function (e) {
  var input = e.target.closest("input[type=file][data-fill]");
  if (!input || !input.files || !input.files[0]) return;
  var area = document.getElementById(input.getAttribute("data-fill"));
  if (area) input.files[0].text().then(function (t) { area.value = t; });
});
