// Keyboard and screen-reader access to the button in the head of a need box that shows or
// hides every field and link (sphinx-needs draws it as a span that reacts to a click only).
window.addEventListener("load", () => {
  document.querySelectorAll("table.need span.needs_collapse").forEach((button) => {
    const table = button.closest("table.need");
    const row = table && table.querySelector(":scope > tbody > tr.meta");
    if (!row) return;
    button.setAttribute("role", "button");
    button.tabIndex = 0;
    button.setAttribute("aria-label", `Every field and link of ${table.id}`);
    const update = () => button.setAttribute("aria-expanded", String(!row.classList.contains("collapse_is_hidden")));
    update();
    // sphinx-needs sets the initial state when jQuery is ready, which may come after load
    new MutationObserver(update).observe(row, { attributes: true, attributeFilter: ["class"] });
    button.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" && event.key !== " ") return;
      event.preventDefault();
      const shown = button.querySelector("span.needs.collapsed:not(.collapse_is_hidden), span.needs.visible:not(.collapse_is_hidden)");
      if (shown) shown.click();
    });
  });
});
