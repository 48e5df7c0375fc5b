/* Browse and filter the needs of the knowledge base (the page with `.. kb-browse::`).
 *
 * Data: window.KB_BROWSE_DATA, written by _ext/kb_browse.py from the needs at build time.
 * Speed: at load, every facet value gets a bitset of the needs that carry it (one bit per
 * need, 32 needs per Uint32Array word). A filter is then a few ORs (values of one facet) and
 * ANDs (across facets and the text) over ~n/32 words, and the count of each facet value is a
 * popcount of one AND: a few hundred microseconds at 10,000 needs. Rows are built once, on first
 * display, and at most PAGE of them are put into the page per step, so the DOM work of a
 * filter does not grow with the number of needs.
 * State: the query string (?tag=a&tag=b&stakeholder=c&framework=STD_X&q=words), so a view is a link.
 * Content is only ever set as text (textContent, createTextNode), never parsed as HTML. */
(() => {
  "use strict";

  const PAGE = 200;
  const TEXT_PARAM = "q";
  const data = window.KB_BROWSE_DATA;
  const root = document.getElementById("kb-browse");

  // ------------------------------------------------------------------ bitsets

  function popcount(x) {
    x -= (x >>> 1) & 0x55555555;
    x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
    return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
  }

  function allOnes(n) {
    const set = new Uint32Array((n + 31) >>> 5).fill(0xffffffff);
    if (n & 31) set[set.length - 1] = (1 << (n & 31)) - 1; // no bits past the last need
    return set;
  }

  function andInto(target, other) {
    for (let w = 0; w < target.length; w++) target[w] &= other[w];
    return target;
  }

  function countAnd(a, b) {
    let count = 0;
    for (let w = 0; w < a.length; w++) count += popcount(a[w] & b[w]);
    return count;
  }

  function members(set) {
    const out = [];
    for (let w = 0; w < set.length; w++) {
      let bits = set[w];
      while (bits) {
        const low = bits & -bits;
        out.push((w << 5) + 31 - Math.clz32(low));
        bits ^= low;
      }
    }
    return out;
  }

  // ------------------------------------------------------------------ index

  function buildIndex(data) {
    const n = data.needs.length;
    const words = (n + 31) >>> 5;
    const postings = data.facets.map((facet) => facet.values.map(() => new Uint32Array(words)));
    data.needs.forEach((need, i) => {
      need.facets.forEach((valueIndexes, f) => {
        for (const v of valueIndexes) postings[f][v][i >>> 5] |= 1 << (i & 31);
      });
    });
    const haystacks = data.needs.map((need) => `${need.id} ${need.title} ${need.text}`.toLowerCase());
    return { n, postings, haystacks, all: allOnes(n) };
  }

  // The needs whose ID, title or statement contain every word of the query; cached, since
  // the text does not change while facets are clicked.
  let textCache = { query: null, set: null };
  function textSet(index, query) {
    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    if (!words.length) return null;
    const key = words.join(" ");
    if (textCache.query === key) return textCache.set;
    const set = new Uint32Array(index.all.length);
    index.haystacks.forEach((hay, i) => {
      if (words.every((word) => hay.includes(word))) set[i >>> 5] |= 1 << (i & 31);
    });
    textCache = { query: key, set };
    return set;
  }

  // Values selected in one facet are alternatives (OR); null: the facet does not filter.
  function facetSet(index, f, selected) {
    if (!selected.size) return null;
    const set = new Uint32Array(index.all.length);
    for (const v of selected) {
      const posting = index.postings[f][v];
      for (let w = 0; w < set.length; w++) set[w] |= posting[w];
    }
    return set;
  }

  // Facets and text combine (AND). The count shown beside a value is the number of results
  // if that value were the facet's only selection: all other filters applied, not its own.
  function filter(index, state) {
    const sets = state.selected.map((selected, f) => facetSet(index, f, selected));
    const text = textSet(index, state.text);
    const constraints = [...sets, text];
    const result = index.all.slice();
    constraints.forEach((set) => set && andInto(result, set));
    const counts = sets.map((_own, f) => {
      const others = index.all.slice();
      constraints.forEach((set, g) => set && g !== f && andInto(others, set));
      return index.postings[f].map((posting) => countAnd(others, posting));
    });
    return { ids: members(result), counts };
  }

  // ------------------------------------------------------------------ state <-> URL

  function emptyState() {
    return { text: "", selected: data.facets.map(() => new Set()) };
  }

  // Unknown parameters and values are ignored: an old link still opens.
  function stateFromQuery(query) {
    const params = new URLSearchParams(query);
    const state = emptyState();
    state.text = params.get(TEXT_PARAM) || "";
    data.facets.forEach((facet, f) => {
      for (const value of params.getAll(facet.key)) {
        const v = facet.values.findIndex((entry) => entry.value === value);
        if (v >= 0) state.selected[f].add(v);
      }
    });
    return state;
  }

  // Facets in page order, values in model order: one view, one URL.
  function queryFromState(state) {
    const params = new URLSearchParams();
    data.facets.forEach((facet, f) => {
      facet.values.forEach((entry, v) => state.selected[f].has(v) && params.append(facet.key, entry.value));
    });
    if (state.text.trim()) params.set(TEXT_PARAM, state.text.trim());
    const query = params.toString();
    return query ? `?${query}` : "";
  }

  // ------------------------------------------------------------------ CSV (RFC 4180)

  // A spreadsheet runs a cell that starts with = + - @ (or tab/CR before them) as a formula:
  // such a cell gets a leading single quote, which makes it text.
  function csvCell(value) {
    let text = value == null ? "" : String(value);
    if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
    if (/[",\r\n]/.test(text)) text = `"${text.replace(/"/g, '""')}"`;
    return text;
  }

  function toCsv(rows) {
    return rows.map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
  }

  // ------------------------------------------------------------------ page

  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    node.append(...children); // strings become text nodes
    return node;
  }

  function start() {
    const index = buildIndex(data);
    const contentRoot = document.documentElement.dataset.content_root || "";
    const facetOf = Object.fromEntries(data.facets.map((facet, f) => [facet.key, f]));
    const valuesOf = (need, key) =>
      need.facets[facetOf[key]].map((v) => data.facets[facetOf[key]].values[v]);
    const labelsOf = (need, key) => valuesOf(need, key).map((entry) => entry.label);

    let state = stateFromQuery(location.search);
    let result = { ids: [], counts: [] };
    let shown = 0;
    const rows = new Map();

    // --- the form: text, one fieldset per facet, actions
    const textInput = el("input", {
      type: "search", id: "kb-browse-text", name: TEXT_PARAM, autocomplete: "off",
      "aria-describedby": "kb-browse-text-help",
    });
    const textField = el("div", { class: "kb-browse-text" },
      el("label", { for: "kb-browse-text" }, "Text"), textInput,
      el("p", { id: "kb-browse-text-help", class: "kb-browse-help" },
        "Every word must appear in the ID, the title or the statement."));

    const controls = data.facets.map((facet, f) => {
      const summaryNote = el("span", { class: "kb-facet-selected" });
      const fieldset = el("fieldset", {}, el("legend", { class: "kb-visually-hidden" }, facet.label));
      const items = facet.values.map((entry, v) => {
        const box = el("input", { type: "checkbox", name: facet.key, value: entry.value, "data-facet": f, "data-value": v });
        const count = el("span", { class: "kb-facet-count" });
        const label = el("label", { class: "kb-facet-value" }, box, " ", el("span", {}, entry.label), " ", count);
        if (entry.meaning) label.title = entry.meaning;
        fieldset.append(label);
        return { box, count, label };
      });
      const details = el("details", { class: "kb-facet", "data-facet-key": facet.key },
        el("summary", {}, facet.label, summaryNote), fieldset);
      // short lists open; long ones (tags, sections) open when something in them is selected
      details.open = facet.values.length <= 8 || state.selected[f].size > 0;
      return { details, summaryNote, items };
    });

    const clearButton = el("button", { type: "button", class: "kb-browse-clear" }, "Clear all filters");
    const csvButton = el("button", { type: "button", class: "kb-browse-csv" }, "Download these results as CSV");
    const form = el("form", { class: "kb-browse-form", role: "search", "aria-label": "Filter the needs" },
      textField, el("div", { class: "kb-facets" }, ...controls.map((c) => c.details)),
      el("div", { class: "kb-browse-actions" }, clearButton, csvButton));

    // --- the results
    const countLine = el("p", {
      class: "kb-browse-count", role: "status", "aria-live": "polite", "aria-atomic": "true",
      "data-result-count": "0",
    });
    const body = el("tbody");
    const table = el("table", { class: "kb-browse-results" },
      el("caption", { class: "kb-visually-hidden" }, "Needs matching the filters"),
      el("thead", {}, el("tr", {}, ...["ID", "Title", "Type", "Section", "Coverage"].map(
        (heading) => el("th", { scope: "col" }, heading)))),
      body);
    const moreButton = el("button", { type: "button", class: "kb-browse-more", hidden: "" });
    const empty = el("p", { class: "kb-browse-empty", hidden: "" }, "No need matches these filters.");
    // a region that may scroll sideways must be reachable by keyboard to be scrolled
    const scroller = el("div", { class: "kb-browse-table", tabindex: "0", role: "region", "aria-label": "Results" }, table);
    root.append(form, countLine, scroller, empty, moreButton);

    function rowOf(i) {
      if (rows.has(i)) return rows.get(i);
      const need = data.needs[i];
      const idCell = el("th", { scope: "row" }, need.url ? el("a", { href: contentRoot + need.url }, need.id) : need.id);
      const tags = valuesOf(need, "tag").map((entry) =>
        el("a", { href: contentRoot + entry.page, class: "kb-tag", title: entry.meaning }, entry.label));
      const titleCell = el("td", {}, el("span", { class: "kb-browse-title" }, need.title));
      if (tags.length) {
        const list = el("span", { class: "kb-browse-tags" }, "tags: ");
        tags.forEach((tag, k) => list.append(...(k ? [", ", tag] : [tag])));
        titleCell.append(list);
      }
      const row = el("tr", { "data-need-id": need.id }, idCell, titleCell,
        el("td", {}, labelsOf(need, "type").join(", ")),
        el("td", {}, labelsOf(need, "section").join(", ") || "\u2013"),
        el("td", {}, labelsOf(need, "coverage").join(", ") || "\u2013"));
      rows.set(i, row);
      return row;
    }

    function showMore() {
      const next = result.ids.slice(shown, shown + PAGE);
      const fragment = document.createDocumentFragment();
      next.forEach((i) => fragment.append(rowOf(i)));
      body.append(fragment);
      shown += next.length;
      const left = result.ids.length - shown;
      moreButton.hidden = left <= 0;
      moreButton.textContent = `Show ${Math.min(PAGE, left)} more of ${left} not shown`;
      return next;
    }

    function render() {
      const total = data.needs.length;
      const n = result.ids.length;
      countLine.dataset.resultCount = String(n);
      countLine.textContent = n === total ? `All ${total} needs` : `${n} of ${total} needs match`;
      body.replaceChildren();
      shown = 0;
      showMore();
      empty.hidden = n > 0;
      controls.forEach((control, f) => {
        control.items.forEach((item, v) => {
          const selected = state.selected[f].has(v);
          const count = result.counts[f][v];
          item.box.checked = selected;
          item.count.textContent = `(${count})`;
          item.label.classList.toggle("kb-facet-none", count === 0 && !selected);
        });
        const picked = state.selected[f].size;
        control.summaryNote.textContent = picked ? ` (${picked} selected)` : "";
      });
      if (textInput.value !== state.text) textInput.value = state.text;
    }

    let lastFilterMs = 0;
    function update() {
      const started = performance.now();
      result = filter(index, state);
      render();
      lastFilterMs = performance.now() - started;
      root.dataset.filterMs = lastFilterMs.toFixed(2);
    }

    // pushState for clicks (Back undoes them), replaceState while typing (one entry per word
    // would make Back useless).
    function saveState(push) {
      const url = location.pathname + queryFromState(state) + location.hash;
      if (url === location.pathname + location.search + location.hash) return;
      history[push ? "pushState" : "replaceState"](null, "", url);
    }

    form.addEventListener("submit", (event) => event.preventDefault());
    form.addEventListener("change", (event) => {
      const box = event.target;
      if (box.type !== "checkbox") return;
      const selected = state.selected[Number(box.dataset.facet)];
      const v = Number(box.dataset.value);
      if (box.checked) selected.add(v);
      else selected.delete(v);
      update();
      saveState(true);
    });
    textInput.addEventListener("input", () => {
      state.text = textInput.value;
      update();
      saveState(false);
    });
    clearButton.addEventListener("click", () => {
      state = emptyState();
      update();
      saveState(true);
      textInput.focus();
    });
    moreButton.addEventListener("click", () => {
      const added = showMore();
      // keyboard users continue where the new rows start, not at the end of the page
      const first = added.length && rowOf(added[0]).querySelector("a");
      if (first) first.focus();
    });
    csvButton.addEventListener("click", () => {
      const header = ["ID", "Type", "Title", "Section", "Stakeholder", "Phase", "Tags", "Coverage", "Frameworks",
        "URL", "Statement"];
      const lines = result.ids.map((i) => {
        const need = data.needs[i];
        return [need.id, labelsOf(need, "type").join("; "), need.title, labelsOf(need, "section").join("; "),
          labelsOf(need, "stakeholder").join("; "), labelsOf(need, "phase").join("; "),
          labelsOf(need, "tag").join("; "), labelsOf(need, "coverage").join("; "),
          valuesOf(need, "framework").map((entry) => entry.value).join("; "),
          need.url ? new URL(contentRoot + need.url, location.href).href : "", need.text];
      });
      // the byte order mark makes spreadsheet programs read the file as UTF-8
      const blob = new Blob(["\ufeff", toCsv([header, ...lines])], { type: "text/csv;charset=utf-8" });
      const link = el("a", { href: URL.createObjectURL(blob), download: "kb-needs.csv" });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 0);
    });
    window.addEventListener("popstate", () => {
      state = stateFromQuery(location.search);
      update();
    });

    update();
    // for tests and benchmarks: the CSV rules and the duration of the last filter
    window.kbBrowse = { csvCell, toCsv, get lastFilterMs() { return lastFilterMs; } };
  }

  if (!data || !root) {
    if (root) root.append(el("p", {}, "The data of this page (kb-browse-data.js) did not load."));
    return;
  }
  start();
})();
