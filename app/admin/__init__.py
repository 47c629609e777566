"""The admin area's domain side: form declarations and the service that writes."""
