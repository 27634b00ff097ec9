// Each commented line is a mistake the generated event types must catch (check.sh expects exactly these).
import { track } from "@touchpoint/widget";

track("imprted_data", { rows: 120 }); // misspelled event name
track("imported_data", { rows: "120" }); // rows is a number
track("imported_data"); // rows is required
track("imported_data", { rows: 1, sorce: "csv" }); // undeclared property
