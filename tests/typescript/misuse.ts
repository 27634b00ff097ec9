// Each line is a mistake the types must catch; check.sh expects tsc to report exactly these.
import { init, identify, track, on, why, group } from "@touchpoint/widget";

void init({ key: "pk_demo" }); // missing endpoint
track(42); // name must be a string
on("survey:completed", (e) => e.itemId); // no itemId on survey:completed
on("no_such_event", () => {}); // unknown event name
void init({ key: "k", endpoint: "e", theme: { colorScheme: "purple" } }); // not a colour scheme
identify("u1", {}, { user_hash: "abc" }); // the option is userHash
const w = why("nps"); if (!w.eligible) console.log(w.show_at_ms); // a blocked answer has no show time
group("acme", { seats: "forty" }); // seats must be a number
void init({ key: "k", endpoint: "e", beforeSend: (e) => e.id.length }); // must return the event or null
