// Each line is a mistake the types must catch; check.sh expects tsc to report exactly these.
import { init, track, on, group } from "@touchpoint/widget";

void init({ key: "pk_demo" }); // missing endpoint
track(42); // name must be a string
on("survey:completed", (e) => e.itemId); // no itemId on survey:completed
on("no_such_event", () => {}); // unknown event name
void init({ key: "k", endpoint: "e", theme: { colorScheme: "purple" } }); // not a colour scheme
group("acme", { seats: "forty" }); // seats must be a number
