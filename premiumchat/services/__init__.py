"""The rules of the domain. Each public function is one transaction."""
