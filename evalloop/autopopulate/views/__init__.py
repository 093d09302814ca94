"""Rule pages: the dataset page's rules section, the rule form with its preview, a rule."""
