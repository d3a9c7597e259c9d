// The review page of a find-label-errors run: data.js (window.REVIEW: the summary and the issue rows) and dataset.js
// (window.DATASET: the dataset's COCO json) are written beside it; no server. Accept / reject per issue (kept in the
// browser's localStorage); "export" downloads the dataset's json with only the accepted fixes applied.
(function () {
  "use strict";
  const R = window.REVIEW;
  const D = window.DATASET;
  const KEY = "noisy_seg_review:" + R.run;
  const PAGE = 120; // cards rendered at a time: 10,000 issues stay fast to open and to filter
  const VIEW = 208; // pixels of a card's image
  const timings = (window.REVIEW_TIMINGS = {});
  const decisions = JSON.parse(localStorage.getItem(KEY) || "{}"); // rank -> "accept" | "reject"
  const $ = (id) => document.getElementById(id);
  const name = (id) => (id === null || id === undefined ? "-" : R.classes[id] || String(id));
  const fixed = (v, n) => (v === null || v === undefined ? "-" : Number(v).toFixed(n));
  let shown = [];
  let rendered = 0;

  function element(tag, attributes, text) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function showSummary() {
    const s = R.summary;
    const gate = s.quality_gate;
    if (gate) {
      $("gate").className = gate.passed ? "passed" : "failed";
      $("gate").textContent = (gate.passed ? "Quality gate passed: " : "Quality gate FAILED: ") + gate.verdict;
    }
    const n = s.issues;
    $("summary").textContent =
      `${n.total} rows: ${n.annotations} annotations (${n.class} class, ${n.mask} mask issues), ` +
      `${n.missing} missing objects; ${s.scored} annotations scored in ${s.images} images.` +
      (R.shown < n.total ? ` The page holds the first ${R.shown} rows by combined score.` : "");
    const estimate = s.noise_estimate;
    if (estimate) {
      const injected = estimate.injected ? ` (injected: ${fixed(estimate.injected.noise_rate, 3)})` : "";
      $("noise-text").textContent = `estimated noise rate ${fixed(estimate.noise_rate, 3)}${injected}`;
    } else {
      $("noise").hidden = true;
    }
    if (s.per_class) {
      const table = element("table");
      const head = element("tr");
      for (const h of ["class", "annotations", "class issues", "mask issues", "relabelled by the policy"]) {
        head.appendChild(element("th", {}, h));
      }
      table.appendChild(head);
      for (const c of s.per_class) {
        const row = element("tr");
        for (const v of [c.name, c.annotations, c.class_issues, c.mask_issues, c.relabelled]) {
          row.appendChild(element("td", {}, String(v)));
        }
        table.appendChild(row);
      }
      $("summary").appendChild(table);
    }
  }

  function filtered() {
    const order = $("order").value;
    const wanted = $("class").value;
    const types = new Set(Array.from(document.querySelectorAll(".type:checked"), (box) => box.value));
    let rows = R.issues.filter(
      (i) =>
        i.reasons.some((t) => types.has(t)) &&
        (wanted === "" || String(i.given) === wanted || String(i.suggested) === wanted)
    );
    if (order !== "combined") {
      rows = rows.filter((i) => order in i.ranks).sort((a, b) => a.ranks[order] - b.ranks[order]);
    }
    return rows;
  }

  function card(i) {
    const node = element("div", { class: "card " + (decisions[i.rank] || ""), "data-rank": i.rank });
    const view = element("div", { class: "view" });
    if (i.crop) {
      view.appendChild(element("img", { src: i.crop, width: i.crop_size[0], height: i.crop_size[1], loading: "lazy" }));
      const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      svg.setAttribute("width", VIEW);
      svg.setAttribute("height", VIEW);
      const rect = document.createElementNS("http://www.w3.org/2000/svg", "rect");
      const [x, y, w, h] = i.box_in_crop;
      for (const [key, value] of Object.entries({ x, y, width: w, height: h })) rect.setAttribute(key, value);
      rect.setAttribute("fill", "none");
      rect.setAttribute("stroke", i.ann === null ? "#c0261a" : "#1a7a2a");
      rect.setAttribute("stroke-width", "2");
      svg.appendChild(rect);
      view.appendChild(svg);
    }
    node.appendChild(view);
    const meta = element("div", { class: "meta" });
    const ranks = Object.entries(i.ranks).map(([t, r]) => `${t} #${r}`).join(", ");
    meta.appendChild(element("div", {}, `#${i.rank} · ${ranks}`));
    if (i.ann === null) {
      meta.appendChild(element("div", { class: "suggested" }, `missing? ${name(i.suggested)} ${fixed(i.det_score, 2)}`));
    } else {
      meta.appendChild(element("div", { class: "given" }, `given: ${name(i.given)} ${fixed(i.given_prob, 2)}`));
      if (i.reasons.includes("class")) {
        const action = i.relabel ? "relabel to" : "suggested";
        meta.appendChild(
          element("div", { class: "suggested" }, `${action}: ${name(i.suggested)} ${fixed(i.suggested_prob, 2)}`)
        );
      }
      if (i.mask_iou !== null) meta.appendChild(element("div", {}, `mask IoU ${fixed(i.mask_iou, 2)}`));
    }
    node.appendChild(meta);
    for (const [label, value] of [["accept", "accept"], ["reject", "reject"]]) {
      const button = element("button", { class: value }, label);
      button.addEventListener("click", () => decide(i.rank, value, node));
      node.appendChild(button);
    }
    return node;
  }

  function renderMore() {
    const fragment = document.createDocumentFragment();
    for (const i of shown.slice(rendered, rendered + PAGE)) fragment.appendChild(card(i));
    $("gallery").appendChild(fragment);
    rendered = Math.min(shown.length, rendered + PAGE);
    $("more").hidden = rendered >= shown.length;
  }

  function refresh() {
    const start = performance.now();
    shown = filtered();
    rendered = 0;
    $("gallery").textContent = "";
    renderMore();
    $("count").textContent = `${shown.length} of ${R.issues.length} shown`;
    timings.last_filter_ms = performance.now() - start;
  }

  function countDecisions() {
    const values = Object.values(decisions);
    const accepted = values.filter((v) => v === "accept").length;
    $("decided").textContent = `${accepted} accepted, ${values.length - accepted} rejected`;
  }

  function decide(rank, value, node) {
    if (decisions[rank] === value) delete decisions[rank];
    else decisions[rank] = value;
    localStorage.setItem(KEY, JSON.stringify(decisions));
    node.className = "card " + (decisions[rank] || "");
    countDecisions();
  }

  // The dataset's json with only the accepted fixes: a class issue takes its suggested class (the given one kept in
  // original_category_id), a mask issue is marked review.bad_mask (a mask cannot be redrawn here), a missing object
  // is added as a box-only annotation (added_by_review); everything else as it was.
  function reviewed() {
    const out = JSON.parse(JSON.stringify(D));
    const byId = new Map(out.annotations.map((a) => [a.id, a]));
    let nextId = 0;
    for (const a of out.annotations) nextId = Math.max(nextId, a.id);
    for (const i of R.issues) {
      if (decisions[i.rank] !== "accept") continue;
      if (i.ann === null) {
        nextId += 1;
        out.annotations.push({
          id: nextId,
          image_id: i.image,
          category_id: i.suggested,
          bbox: i.bbox,
          area: i.bbox[2] * i.bbox[3],
          iscrowd: 0,
          added_by_review: true,
        });
        continue;
      }
      const a = byId.get(i.ann);
      if (i.reasons.includes("class") && i.suggested !== null) {
        a.original_category_id = a.category_id;
        a.category_id = i.suggested;
      }
      if (i.reasons.includes("mask")) a.review = Object.assign(a.review || {}, { bad_mask: true });
    }
    return out;
  }

  function exportReviewed() {
    const blob = new Blob([JSON.stringify(reviewed())], { type: "application/json" });
    const link = element("a", { href: URL.createObjectURL(blob), download: "reviewed.json" });
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  showSummary();
  const classes = $("class");
  for (const [id, label] of Object.entries(R.classes)) classes.appendChild(element("option", { value: id }, label));
  for (const control of document.querySelectorAll("#order, #class, .type")) control.addEventListener("change", refresh);
  $("more").addEventListener("click", renderMore);
  $("export").addEventListener("click", exportReviewed);
  window.reviewedDataset = reviewed; // for a console look before exporting
  refresh();
  countDecisions();
  timings.first_render_ms = performance.now();
})();
