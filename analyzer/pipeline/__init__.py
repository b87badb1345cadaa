"""The analysis pipeline: decode -> quality -> landmarks -> regions -> metrics -> scores."""
