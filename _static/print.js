// Printing a paged needtable would print only the rows of its current page: sphinx-needs'
// needstable.js detaches the other rows from the document. While printing, every table
// shows all its rows (page size 0 means "all" in needstable.js), then returns to the page
// the reader was on. Tables the reader filtered print what the filter shows.
(function () {
    "use strict";

    /** @type {Array<[any, number, number]>} */
    const saved = [];

    window.addEventListener("beforeprint", () => {
        document.querySelectorAll("table.NEEDS_DATATABLES").forEach((table) => {
            const widget = /** @type {any} */ (table).__needstable;
            if (!widget || typeof widget.paint !== "function") {
                return;
            }
            saved.push([widget, widget.pageSize, widget.page]);
            widget.pageSize = 0;
            widget.page = 0;
            widget.paint();
        });
    });

    window.addEventListener("afterprint", () => {
        saved.splice(0).forEach(([widget, pageSize, page]) => {
            widget.pageSize = pageSize;
            widget.page = page;
            widget.paint();
        });
    });
})();
