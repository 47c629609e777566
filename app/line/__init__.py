"""LINE: the Messaging API webhook, links between LINE users and bookings, LINE Login."""
