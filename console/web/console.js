// OrgScope console: the one script (the CSP allows no inline script). It
// copies a secret shown once to the clipboard, and selects it on focus.
"use strict";
document.addEventListener("click", function (e) {
  var button = e.target.closest ? e.target.closest("button[data-copy]") : null;
  if (!button) { return; }
  var field = document.getElementById(button.getAttribute("data-copy"));
  if (!field) { return; }
  field.focus();
  field.select();
  var copied = false;
  try { copied = document.execCommand("copy"); } catch (err) { copied = false; }
  button.textContent = copied ? "Copied" : "Selected: press Ctrl+C to copy";
  if (!copied && navigator.clipboard && navigator.clipboard.writeText) {
    navigator.clipboard.writeText(field.value).then(function () { button.textContent = "Copied"; }, function () {});
  }
});
document.addEventListener("focusin", function (e) {
  if (e.target.matches && e.target.matches("input[readonly].select-all")) { e.target.select(); }
});
