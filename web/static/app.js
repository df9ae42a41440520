// mailroom: the little script the pages need (the CSP forbids inline script).
"use strict";

function setupPhotoGrid() {
  const form = document.getElementById("zipform");
  if (!form) return;
  const boxes = () => Array.from(form.querySelectorAll('input[name="item"]'));
  const count = document.getElementById("selcount");
  const update = () => {
    let n = 0;
    for (const box of boxes()) {
      box.closest("li").classList.toggle("selected", box.checked);
      if (box.checked) n += 1;
    }
    count.textContent = String(n);
  };
  form.addEventListener("change", update);
  document.getElementById("selectall").addEventListener("click", () => {
    const all = boxes();
    const target = !all.every((b) => b.checked);
    all.forEach((b) => { b.checked = target; });
    update();
  });
  form.addEventListener("submit", (event) => {
    if (!boxes().some((b) => b.checked)) {
      event.preventDefault();
      alert("请先勾选要下载的照片。");
    }
  });
  update();
}

function setupBulkTriage() {
  const form = document.getElementById("bulkform");
  if (!form) return;
  form.addEventListener("submit", (event) => {
    const n = document.querySelectorAll('input[name="message"][form="bulkform"]:checked').length;
    if (n === 0) {
      event.preventDefault();
      alert("请先勾选要归档的邮件。");
    } else if (!confirm("把 " + n + " 封邮件归入所选单位？")) {
      event.preventDefault();
    }
  });
}

function setupAutosubmit() {
  // The campaign switcher works without script (its button); with it, choosing is enough.
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setupPhotoGrid();
  setupBulkTriage();
  setupAutosubmit();
});
