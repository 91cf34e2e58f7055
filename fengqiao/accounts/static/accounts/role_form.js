// Role form: show the unit list only for the "selected units" scope; the model name toggles its row.
document.addEventListener("DOMContentLoaded", function () {
  var scope = document.getElementById("id_data_scope");
  var box = document.getElementById("custom-units");
  if (scope && box) {
    var sync = function () { box.hidden = scope.value !== "custom"; };
    scope.addEventListener("change", sync);
    sync();
  }
  document.querySelectorAll("[data-toggle-row]").forEach(function (button) {
    button.addEventListener("click", function () {
      var boxes = button.closest("tr").querySelectorAll("input[type=checkbox]:not(:disabled)");
      var anyOff = Array.prototype.some.call(boxes, function (b) { return !b.checked; });
      boxes.forEach(function (b) { b.checked = anyOff; });
    });
  });
});
