// The staff member's schedule (templates/staff/schedule.html): a copy button
// for the private calendar feed link.

import { enableCopyButtons } from "../lib/copy.js";

enableCopyButtons();
