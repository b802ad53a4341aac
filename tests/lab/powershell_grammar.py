"""PowerShell checked with a real grammar (tree-sitter-powershell), without
PowerShell: the tests parse the collection's remote script and every
generated fix-ad.ps1 with it. tree-sitter never raises on bad input; it
marks what it could not parse with ERROR nodes and what it had to invent
with MISSING nodes, so a script is clean when its tree has neither."""
import tree_sitter
import tree_sitter_powershell

_PARSER = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))


def syntax_problems(text):
    """[(line, column, 'ERROR' or 'MISSING <kind>', the text there)] of a
    PowerShell script, 1-based lines; empty when it parses cleanly."""
    source = text.encode("utf-8")
    problems = []
    stack = [_PARSER.parse(source).root_node]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            kind = "ERROR" if node.is_error else "MISSING %s" % node.type
            problems.append((node.start_point[0] + 1, node.start_point[1] + 1, kind,
                             source[node.start_byte:node.end_byte][:60].decode("utf-8", "replace")))
        stack.extend(reversed(node.children))
    return sorted(problems)
