"""Site image intelligence."""
