"""The subscriber's side of the update repository: pin, check, fetch, update, export."""
