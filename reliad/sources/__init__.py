"""What gets backed up. Each source type yields `SourceItem`s in manifest sort order."""
