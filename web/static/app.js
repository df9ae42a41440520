// mailroom: the little script the pages need (the CSP forbids inline script).
"use strict";

// The photo grid: the selection is kept across pages (this tab's sessionStorage), so
// photos ticked on page 1 and page 3 go into one zip.
function setupPhotoGrid() {
  const form = document.getElementById("zipform");
  if (!form) return;
  const KEY = "mailroom.photos.selected";
  const load = () => new Set(JSON.parse(sessionStorage.getItem(KEY) || "[]"));
  const save = (ids) => sessionStorage.setItem(KEY, JSON.stringify(Array.from(ids)));
  const boxes = () => Array.from(form.querySelectorAll('input[type="checkbox"][name="item"]'));
  const count = document.getElementById("selcount");
  const update = () => {
    const ids = load();
    for (const box of boxes()) {
      if (box.checked) ids.add(box.value); else ids.delete(box.value);
      box.closest("li").classList.toggle("selected", box.checked);
    }
    save(ids);
    count.textContent = String(ids.size);
  };
  const chosen = load();
  boxes().forEach((b) => { b.checked = chosen.has(b.value); });
  form.addEventListener("change", update);
  document.getElementById("selectall").addEventListener("click", () => {
    const all = boxes();
    const target = !all.every((b) => b.checked);
    all.forEach((b) => { b.checked = target; });
    update();
  });
  document.getElementById("clearsel").addEventListener("click", () => {
    save(new Set());
    boxes().forEach((b) => { b.checked = false; });
    update();
  });
  form.addEventListener("submit", (event) => {
    const ids = load();
    if (ids.size === 0) {
      event.preventDefault();
      alert("请先勾选要下载的照片。");
      return;
    }
    const onPage = new Set(boxes().map((b) => b.value));
    for (const id of ids) {  // ticked on other pages: send them too
      if (onPage.has(id)) continue;
      const hidden = document.createElement("input");
      hidden.type = "hidden"; hidden.name = "item"; hidden.value = id; hidden.className = "carried";
      form.appendChild(hidden);
    }
    setTimeout(() => form.querySelectorAll("input.carried").forEach((e) => e.remove()), 0);
  });
  update();
}

// A lightbox for every grid of pictures: click a thumbnail, ← → to move, Esc to close.
function setupLightbox() {
  const box = document.getElementById("lightbox");
  if (!box) return;
  const links = Array.from(document.querySelectorAll('a.thumb[data-kind="image"]'));
  if (links.length === 0) return;
  const img = box.querySelector("img");
  const cap = box.querySelector(".cap");
  let current = -1;
  const show = (n) => {
    current = (n + links.length) % links.length;
    const link = links[current];
    img.src = link.dataset.preview;
    img.alt = link.querySelector("img").alt;
    cap.textContent = img.alt + "（" + (current + 1) + " / " + links.length + "）";
    box.hidden = false;
  };
  const close = () => { box.hidden = true; img.removeAttribute("src"); current = -1; };
  links.forEach((link, n) => link.addEventListener("click", (event) => {
    if (event.ctrlKey || event.metaKey || event.shiftKey) return;  // open the item page
    event.preventDefault();
    show(n);
  }));
  box.querySelector(".close").addEventListener("click", close);
  const prev = box.querySelector(".prev");
  const next = box.querySelector(".next");
  if (prev) prev.addEventListener("click", () => show(current - 1));
  if (next) next.addEventListener("click", () => show(current + 1));
  box.addEventListener("click", (event) => { if (event.target === box) close(); });
  document.addEventListener("keydown", (event) => {
    if (box.hidden) return;
    if (event.key === "ArrowRight") show(current + 1);
    else if (event.key === "ArrowLeft") show(current - 1);
    else if (event.key === "Escape") close();
    else return;
    event.preventDefault();
  });
}

// Bulk triage: count the ticked messages, tick a whole page, confirm before acting.
function setupBulkTriage() {
  const form = document.getElementById("bulkform");
  if (!form) return;
  const boxes = () => Array.from(document.querySelectorAll('input[name="message"][form="bulkform"]'));
  const count = document.getElementById("selcount");
  const update = () => { count.textContent = String(boxes().filter((b) => b.checked).length); };
  document.addEventListener("change", (event) => {
    if (event.target.matches('input[name="message"][form="bulkform"]')) update();
  });
  document.getElementById("selectpage").addEventListener("click", () => {
    const all = boxes();
    const target = !all.every((b) => b.checked);
    all.forEach((b) => { b.checked = target; });
    form.querySelector('input[name="scope"][value="selected"]').checked = true;
    update();
  });
  form.addEventListener("submit", (event) => {
    const action = event.submitter ? event.submitter.value : "assign";
    const all = form.querySelector('input[name="scope"][value="all"]').checked;
    const n = all ? Number(document.getElementById("matching").textContent) : boxes().filter((b) => b.checked).length;
    const what = action === "dismiss" ? form.querySelector('select[name="reason"]') : form.querySelector('select[name="unit"]');
    if (n === 0) {
      event.preventDefault();
      alert("请先勾选邮件，或选择“全部符合筛选条件的邮件”。");
    } else if (!what.value) {
      event.preventDefault();
      alert(action === "dismiss" ? "请选择不是材料的原因。" : "请选择单位。");
    } else {
      const label = what.options[what.selectedIndex].text;
      const verb = action === "dismiss" ? "标为不是材料（" + label + "）" : "归入" + label;
      if (!confirm("把 " + n + " 封邮件" + verb + "？之后可以撤销。")) event.preventDefault();
    }
  });
  update();
}

// The reports page: picking a day shows it.
function setupDayPicker() {
  const pick = document.getElementById("daypick");
  if (pick) pick.addEventListener("change", () => { if (pick.value) pick.form.submit(); });
}

function setupAutosubmit() {
  // The campaign switcher works without script (its button); with it, choosing is enough.
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setupPhotoGrid();
  setupLightbox();
  setupBulkTriage();
  setupAutosubmit();
  setupDayPicker();
});
