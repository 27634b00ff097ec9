// Written against events generated from projects.json (`touchpoint-collector types`):
// `tsc --strict` must accept it.
import { track } from "@touchpoint/widget";

track("imported_data", { rows: 120 });
track("imported_data", { rows: 3, source: "csv" });
track("invited_teammate");
track("invited_teammate", { role: "admin" });
