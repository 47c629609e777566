// The resident's booking page (templates/resident/manage.html): copy buttons
// for the join link and the link to the page itself.

import { enableCopyButtons } from "../lib/copy.js";

enableCopyButtons();
