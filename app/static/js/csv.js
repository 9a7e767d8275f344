/* CSV text to rows of fields (RFC 4180): fields split by commas, quoted fields holding commas,
   line breaks and doubled quotes (""), lines ended by CRLF, LF or CR, a leading byte-order mark
   dropped, empty lines skipped. Malformed quoting is an error naming its line, never a guess. */
(function () {
  "use strict";

  class CsvError extends Error {}

  function parse(text) {
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const rows = [];
    let row = [];
    let field = "";
    let quoted = false; // the current field began with a quote
    let inQuotes = false; // inside that quote now
    let line = 1; // the text's line the reader is on
    let rowLine = 1; // where the current row began
    const lines = []; // the line each row began on
    let rowQuoted = false; // a field of the row was quoted (so "" alone is a row, not a gap)

    function endField() {
      row.push(field);
      field = "";
      quoted = false;
    }
    function endRow() {
      // An empty line (one unquoted empty field) is no row.
      if (!(row.length === 1 && row[0] === "" && !rowQuoted)) {
        rows.push(row);
        lines.push(rowLine);
      }
      row = [];
      rowQuoted = false;
    }

    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (inQuotes) {
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i++;
          } else {
            inQuotes = false;
          }
        } else {
          if (c === "\n" || (c === "\r" && text[i + 1] !== "\n")) line++;
          field += c;
        }
        continue;
      }
      if (c === '"') {
        if (field !== "" || quoted) {
          throw new CsvError(`line ${line}: a quote inside a field that is not quoted`);
        }
        quoted = true;
        inQuotes = true;
        rowQuoted = true;
      } else if (c === ",") {
        endField();
      } else if (c === "\r" || c === "\n") {
        endField();
        endRow();
        if (c === "\r" && text[i + 1] === "\n") i++;
        line++;
        rowLine = line;
      } else {
        if (quoted) {
          throw new CsvError(`line ${line}: text after the closing quote of a field`);
        }
        field += c;
      }
    }
    if (inQuotes) throw new CsvError(`line ${rowLine}: a quoted field is not closed`);
    if (field !== "" || quoted || row.length > 0) {
      endField();
      endRow();
    }
    return { rows: rows, lines: lines };
  }

  // One CSV line of values (quoted where needed), for the download built in the browser.
  function line(values) {
    return values
      .map(function (v) {
        const s = v === null || v === undefined ? "" : String(v);
        return /[",\r\n]/.test(s) || s !== s.trim() ? '"' + s.replace(/"/g, '""') + '"' : s;
      })
      .join(",") + "\r\n";
  }

  window.riskwatchCsv = { parse: parse, line: line, CsvError: CsvError };
})();
