// lafs web UI: progressive enhancement only. Every page works without this
// file; with it, uploads show progress and accept drag and drop, delete asks
// first, caps copy with one click and the operations page refreshes itself.
"use strict";
(function () {
  // One click copies the cap in the neighbouring read-only input.
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button.copy");
    if (!b) return;
    var input = b.parentNode.querySelector(".copy-src");
    if (!input) return;
    input.select();
    var done = function () { b.textContent = "Copied"; setTimeout(function () { b.textContent = "Copy"; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
    } else { document.execCommand("copy"); done(); }
  });

  // Destructive forms confirm first.
  document.querySelectorAll("form.confirm").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      if (!window.confirm(f.dataset.confirm || "Are you sure?")) e.preventDefault();
    });
  });

  // Only one action popover open at a time.
  document.querySelectorAll("details.pop").forEach(function (d) {
    d.addEventListener("toggle", function () {
      if (!d.open) return;
      document.querySelectorAll("details.pop[open]").forEach(function (o) { if (o !== d) o.open = false; });
      var first = d.querySelector("input:not([type=hidden]), a");
      if (first) first.focus();
    });
  });

  // Uploads: XHR with a progress bar, one file after another, then reload the
  // listing. The form's own action is the Tahoe WAPI route (POST ?t=upload).
  var form = document.getElementById("upload");
  if (form) {
    var input = form.querySelector("input[type=file]");
    var box = document.getElementById("progress");
    var bar = box.querySelector("progress");
    var label = box.querySelector(".label");
    var human = function (n) {
      var u = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
      while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
      return (i ? n.toFixed(1) : n) + " " + u[i];
    };
    var send = function (files) {
      if (!files.length) return;
      box.hidden = false;
      var format = form.querySelector("select[name=format]");
      var i = 0;
      var next = function () {
        if (i >= files.length) { label.textContent = "done"; window.location.reload(); return; }
        var f = files[i++];
        var data = new FormData();
        data.append("format", format ? format.value : "chk");
        data.append("file", f, f.name);
        var xhr = new XMLHttpRequest();
        xhr.open("POST", form.getAttribute("action"));
        xhr.upload.onprogress = function (ev) {
          if (!ev.lengthComputable) return;
          bar.value = Math.round(100 * ev.loaded / ev.total);
          label.textContent = f.name + ": " + human(ev.loaded) + " of " + human(ev.total) +
            (ev.loaded === ev.total ? " (encoding and storing…)" : "");
        };
        xhr.onload = function () {
          if (xhr.status >= 200 && xhr.status < 400) { bar.value = 100; next(); }
          else { label.textContent = f.name + ": failed (" + xhr.status + ") " + xhr.responseText.slice(0, 200); }
        };
        xhr.onerror = function () { label.textContent = f.name + ": the node did not answer"; };
        label.textContent = f.name + ": starting";
        bar.value = 0;
        xhr.send(data);
      };
      next();
    };
    form.addEventListener("submit", function (e) { e.preventDefault(); send(Array.prototype.slice.call(input.files)); });
    ["dragenter", "dragover"].forEach(function (t) {
      form.addEventListener(t, function (e) { e.preventDefault(); form.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (t) {
      form.addEventListener(t, function (e) { e.preventDefault(); form.classList.remove("over"); });
    });
    form.addEventListener("drop", function (e) { send(Array.prototype.slice.call(e.dataTransfer.files)); });
  }

  // The operations page refreshes while something is running.
  var ops = document.querySelector("[data-refresh]");
  if (ops) setTimeout(function () { window.location.reload(); }, 1000 * Number(ops.dataset.refresh));
})();
