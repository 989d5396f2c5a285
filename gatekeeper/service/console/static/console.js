// The console's only script: drag and drop onto a file field, and a job's progress.
// Everything works without it (plain forms; a job page can be reloaded by hand).
(function () {
  document.querySelectorAll(".drop").forEach(function (zone) {
    var input = zone.querySelector("input[type=file]");
    var name = zone.querySelector(".chosen");
    function show() { if (name && input.files.length) name.textContent = input.files[0].name; }
    input.addEventListener("change", show);
    ["dragenter", "dragover"].forEach(function (ev) {
      zone.addEventListener(ev, function (e) { e.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (ev) {
      zone.addEventListener(ev, function () { zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (e) {
      e.preventDefault();
      if (e.dataTransfer && e.dataTransfer.files.length) { input.files = e.dataTransfer.files; show(); }
    });
  });
  var job = document.getElementById("job");
  if (job && job.dataset.active === "1") {
    var message = document.getElementById("job-message");
    var seconds = document.getElementById("job-seconds");
    var poll = function () {
      fetch("/console/lavori/" + job.dataset.job + "/stato", {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (s) {
          message.textContent = s.message;
          var bar = document.getElementById("job-progress");
          if (bar && s.total) { bar.max = s.total; bar.value = s.done || 0; }
          seconds.textContent = Math.round(s.seconds);
          if (s.state === "queued" || s.state === "running") { setTimeout(poll, 500); }
          else { window.location.reload(); }
        })
        .catch(function () { setTimeout(poll, 2000); });
    };
    setTimeout(poll, 300);
  }
})();
