-- medbill reference store: read-only at run time, rebuilt by `medbill data build`.
-- Separate from the PHI database. Dates are ISO 'YYYY-MM-DD' text; an open end is NULL.
PRAGMA foreign_keys = ON;

CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One row per loaded file: source file, release, effective dates, SHA-256.
CREATE TABLE IF NOT EXISTS release (
    id             INTEGER PRIMARY KEY,
    dataset        TEXT NOT NULL,          -- e.g. 'icd10cm-tabular', 'mce-dx', 'hcpcs-anweb'
    system         TEXT,                   -- code system it feeds, when one
    release        TEXT NOT NULL,          -- release label, e.g. 'FY2026 April 1 update'
    source         TEXT NOT NULL,          -- file name (not the full local path)
    sha256         TEXT NOT NULL,
    effective_from TEXT,
    effective_to   TEXT,
    rows           INTEGER NOT NULL DEFAULT 0,
    loaded_at      TEXT NOT NULL,
    note           TEXT,
    UNIQUE (dataset, sha256)
);

-- Every node of every code system, per release.
CREATE TABLE IF NOT EXISTS code (
    id          INTEGER PRIMARY KEY,
    system      TEXT NOT NULL,
    code        TEXT NOT NULL,
    release_id  INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    billable    INTEGER NOT NULL,
    long_desc   TEXT,
    short_desc  TEXT,
    parent      TEXT,
    valid_from  TEXT,
    valid_to    TEXT,
    attrs       TEXT,                      -- JSON
    UNIQUE (system, code, release_id)
);
CREATE INDEX IF NOT EXISTS code_parent ON code(system, parent);
CREATE INDEX IF NOT EXISTS code_kind ON code(kind) WHERE kind IN ('chapter', 'block', 'category', 'subcategory', 'table');

-- Instructional notes where they stand (inherited ones are found by walking up `parent`).
CREATE TABLE IF NOT EXISTS note (
    system     TEXT NOT NULL,
    code       TEXT NOT NULL,
    release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    text       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS note_code ON note(system, code);

CREATE TABLE IF NOT EXISTS seventh (
    system     TEXT NOT NULL,
    code       TEXT NOT NULL,
    release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE,
    char       TEXT NOT NULL,
    text       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS seventh_code ON seventh(system, code);

-- Date ranges in which a code is valid (billable), with the edit flags of that range.
CREATE TABLE IF NOT EXISTS validity (
    system     TEXT NOT NULL,
    code       TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_to   TEXT,
    flags      TEXT NOT NULL DEFAULT '',   -- '|'-separated
    release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS validity_code ON validity(system, code);

-- Search terms derived from the tabular until an Index is loaded: inclusion terms carried to
-- 7th-character codes, and rephrased combination titles ("B with A", "X, type 2, with B").
CREATE TABLE IF NOT EXISTS derived_term (
    system     TEXT NOT NULL,
    code       TEXT NOT NULL,
    term       TEXT NOT NULL,
    source     TEXT NOT NULL,             -- inclusion | title_combination
    release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE
);

-- ICD-10-CM Alphabetic Index, External Cause Index, Neoplasm table, Table of Drugs.
CREATE TABLE IF NOT EXISTS index_entry (
    release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE,
    idx        TEXT NOT NULL,
    id         INTEGER NOT NULL,
    parent_id  INTEGER,
    level      INTEGER NOT NULL,
    title      TEXT NOT NULL,
    path       TEXT NOT NULL,             -- "Diabetes, diabetic (mellitus), type 2, with, chronic kidney disease"
    nemod      TEXT NOT NULL DEFAULT '',
    codes      TEXT NOT NULL DEFAULT '{}', -- JSON column -> code as printed
    manif      TEXT NOT NULL DEFAULT '',
    see        TEXT NOT NULL DEFAULT '',
    see_also   TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (release_id, idx, id)
);

-- NCCI procedure-to-procedure edits.
CREATE TABLE IF NOT EXISTS ptp (
    tbl                TEXT NOT NULL,
    column1            TEXT NOT NULL,
    column2            TEXT NOT NULL,
    modifier_indicator TEXT NOT NULL,
    effective          TEXT NOT NULL,
    deleted            TEXT,
    rationale          TEXT NOT NULL DEFAULT '',
    release_id         INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS ptp_pair ON ptp(tbl, column1, column2);

-- Medically unlikely edits.
CREATE TABLE IF NOT EXISTS mue (
    tbl        TEXT NOT NULL,
    code       TEXT NOT NULL,
    max_units  INTEGER NOT NULL,
    mai        INTEGER NOT NULL,
    rationale  TEXT NOT NULL DEFAULT '',
    effective  TEXT,
    deleted    TEXT,
    release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS mue_code ON mue(tbl, code);

-- Medicare physician fee schedule.
CREATE TABLE IF NOT EXISTS rvu (
    code               TEXT NOT NULL,
    modifier           TEXT NOT NULL DEFAULT '',
    status             TEXT NOT NULL,
    work_rvu           TEXT NOT NULL,
    nonfacility_pe_rvu TEXT NOT NULL,
    facility_pe_rvu    TEXT NOT NULL,
    mp_rvu             TEXT NOT NULL,
    conversion_factor  TEXT NOT NULL,
    global_days        TEXT NOT NULL,
    attrs              TEXT,
    release_id         INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS rvu_code ON rvu(code, modifier);

CREATE TABLE IF NOT EXISTS gpci (
    mac        TEXT NOT NULL,
    state      TEXT NOT NULL,
    locality   TEXT NOT NULL,
    name       TEXT NOT NULL,
    work       TEXT NOT NULL,
    pe         TEXT NOT NULL,
    mp         TEXT NOT NULL,
    release_id INTEGER NOT NULL REFERENCES release(id) ON DELETE CASCADE
);

-- Search documents (search_doc, search_fts, search_vocab, search_words) are (re)created by
-- searchindex.rebuild_search_index after every load.
