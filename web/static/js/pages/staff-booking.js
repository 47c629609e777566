// One booking in the staff console (templates/staff/booking.html): the
// consultation notes save themselves while the staff member types.

import { autosaveNotes } from "../lib/notes.js";

const form = document.getElementById("notes-form");
if (form && window.fetch) autosaveNotes(form);
