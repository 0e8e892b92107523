(function () {
  "use strict";
  function sortKey(cell) {
    var text = cell.getAttribute("data-sort");
    if (text === null) { text = cell.textContent.trim(); }
    var m = text.match(/^[<>\u2264\u2265]?\s*(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)/i);
    return m ? { num: true, value: parseFloat(m[1]) } : { num: false, value: text.toLowerCase() };
  }
  function compare(a, b) {
    if (a.num && b.num) { return a.value - b.value; }
    if (a.num !== b.num) { return a.num ? -1 : 1; }
    return a.value < b.value ? -1 : (a.value > b.value ? 1 : 0);
  }
  function sortTable(table, header, column) {
    var body = table.tBodies[0];
    if (!body) { return; }
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    var headers = table.tHead.rows[0].cells;
    for (var i = 0; i < headers.length; i++) { headers[i].removeAttribute("aria-sort"); }
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    var keyed = rows.map(function (row, index) { return { row: row, index: index, key: sortKey(row.cells[column]) }; });
    keyed.sort(function (x, y) {
      var c = compare(x.key, y.key);
      return (ascending ? c : -c) || x.index - y.index;
    });
    keyed.forEach(function (k) { body.appendChild(k.row); });
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    if (!table.tHead) { return; }
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, column) {
      header.tabIndex = 0;
      header.title = "Sort by this column";
      header.addEventListener("click", function () { sortTable(table, header, column); });
      header.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sortTable(table, header, column); }
      });
    });
  });
})();
