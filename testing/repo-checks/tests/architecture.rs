//! No two source files of a crate import each other, directly or around a loop.
//!
//! A file's imports are the modules it names through `use crate::…`, `use super::…` and
//! `crate::`/`super::` paths in its code; a name resolves to the deepest module file it reaches
//! (`crate::pages::overview::Row` is `pages/overview.rs`). A parent naming its own children
//! (`mod x;`, `pub use x::Thing` in `lib.rs` or `mod.rs`) is the crate's structure, not an
//! import, and neither is anything after a file's `#[cfg(test)]` (its tests look at the file
//! itself through `super::*`). Each crate's module graph must then have no cycle.

use repo_checks::{files_under, repo};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every crate's `src` folder: the workspace members' and the test fixtures' alike.
fn source_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    for parent in ["crates", "components", "tools", "testing", "bench"] {
        for entry in std::fs::read_dir(repo().join(parent)).unwrap().flatten() {
            let src = entry.path().join("src");
            if src.is_dir() {
                roots.push(src);
            }
        }
    }
    roots.sort();
    roots
}

/// A file's module path inside its crate: `src/pages/mod.rs` is `pages`, `src/lib.rs` is ``.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// Expands a `use` tree (`crate::{a, b::{c, D}}`) into its paths.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap().trim().to_owned()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap()];
    let (mut depth, mut start, mut items) = (0, 0, Vec::new());
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|item| !item.trim().is_empty())
        .flat_map(expand)
        .map(|path| match path.as_str() {
            "self" => prefix.trim_end_matches("::").to_owned(),
            _ => format!("{prefix}{path}"),
        })
        .collect()
}

/// The `crate::`/`super::` paths a file's code names, before its tests.
fn named_paths(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap();
    let mut paths = Vec::new();
    let mut rest = code;
    // `use` statements, which may group names in braces over several lines.
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        rest = &rest[at + 4..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let Some(end) = rest.find(';') else { break };
        let tree: String = rest[..end].split_whitespace().collect::<Vec<_>>().join(" ");
        if tree.starts_with("crate::") || tree.starts_with("super::") {
            paths.extend(expand(&tree));
        }
    }
    // Paths written in the code itself (`crate::traces::CLIENT`).
    for start in ["crate::", "super::"] {
        for (at, _) in code.match_indices(start) {
            if code[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
            {
                continue;
            }
            let path: String = code[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            paths.push(path.trim_end_matches(':').to_owned());
        }
    }
    paths
}

/// The module file a path names, seen from `module`: the longest prefix that is a module.
fn resolve(path: &str, module: &[String], modules: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    let mut segments = path.split("::");
    let mut target: Vec<String> = match segments.next()? {
        "crate" => Vec::new(),
        "super" => {
            let mut parent = module.to_vec();
            parent.pop()?;
            parent
        }
        _ => return None,
    };
    for segment in segments {
        if segment == "super" {
            target.pop()?;
            continue;
        }
        let mut deeper = target.clone();
        deeper.push(segment.to_owned());
        if !modules.contains(&deeper) {
            break;
        }
        target = deeper;
    }
    Some(target)
}

/// The import graph of one crate: each module file and the module files it imports.
fn import_graph(src: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let files: Vec<PathBuf> = files_under(src)
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "rs"))
        .collect();
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(src, f)).collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let module = module_of(src, file);
        let text = std::fs::read_to_string(file).unwrap();
        let imports: BTreeSet<Vec<String>> = named_paths(&text)
            .iter()
            .filter_map(|path| resolve(path, &module, &modules))
            .filter(|target| *target != module)
            .collect();
        graph.insert(module, imports);
    }
    graph
}

/// The loops of a graph, each as the modules on it (Tarjan's strongly connected components).
fn loops(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'g Vec<String>, usize>,
        low: BTreeMap<&'g Vec<String>, usize>,
        stack: Vec<&'g Vec<String>>,
        found: Vec<Vec<String>>,
    }
    fn visit<'g>(walk: &mut Walk<'g>, node: &'g Vec<String>) {
        let n = walk.index.len();
        walk.index.insert(node, n);
        walk.low.insert(node, n);
        walk.stack.push(node);
        for next in walk.graph.get(node).into_iter().flatten() {
            let Some((next, _)) = walk.graph.get_key_value(next) else {
                continue;
            };
            if !walk.index.contains_key(next) {
                visit(walk, next);
                let low = walk.low[node].min(walk.low[next]);
                walk.low.insert(node, low);
            } else if walk.stack.contains(&next) {
                let low = walk.low[node].min(walk.index[next]);
                walk.low.insert(node, low);
            }
        }
        if walk.low[node] == walk.index[node] {
            let mut component = Vec::new();
            while let Some(top) = walk.stack.pop() {
                component.push(name(top));
                if top == node {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                walk.found.push(component);
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !walk.index.contains_key(node) {
            visit(&mut walk, node);
        }
    }
    walk.found
}

/// The crate whose `src/` is SRC, as a path from the checkout's root.
fn crate_dir(src: &Path) -> String {
    let dir = src.parent().unwrap();
    dir.strip_prefix(repo()).unwrap().display().to_string()
}

fn name(module: &[String]) -> String {
    match module {
        [] => "lib.rs".to_owned(),
        parts => parts.join("/"),
    }
}

#[test]
fn no_source_file_imports_itself_around_a_loop() {
    let mut found = Vec::new();
    let mut files = 0;
    for src in source_roots() {
        let graph = import_graph(&src);
        files += graph.len();
        for component in loops(&graph) {
            found.push(format!("{}: {}", crate_dir(&src), component.join(" ↔ ")));
        }
    }
    assert!(files > 50, "only {files} source files were read");
    assert!(found.is_empty(), "import loops:\n{}", found.join("\n"));
}

/// The checker itself: it must see a loop written three ways (a `use` group, a `super::` use,
/// and a path in code), and nothing in a test module.
#[test]
fn the_checker_finds_loops_and_only_loops() {
    let dir = std::env::temp_dir().join(format!("import-loops-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("pages")).unwrap();
    let write = |file: &str, text: &str| std::fs::write(src.join(file), text).unwrap();
    write("lib.rs", "mod a;\nmod b;\nmod pages;\n");
    write("a.rs", "use crate::{b::Thing, pages};\n");
    write("b.rs", "pub struct Thing;\nfn f() { crate::a::g(); }\n");
    write("pages/mod.rs", "mod one;\nmod two;\n");
    write("pages/one.rs", "use super::two::Row;\n");
    write(
        "pages/two.rs",
        "pub struct Row;\n#[cfg(test)]\nmod tests { use super::super::one::*; }\n",
    );
    let found = loops(&import_graph(&src));
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found, [vec!["a".to_owned(), "b".to_owned()]]);
}

/// Data flows down: a crate's root (`lib.rs`) declares its modules and says what the crate
/// exports, and no module reaches back up through it for something the root itself defines
/// (`crate::VERSION`, `crate::handle`). What modules share lives in a module of its own.
#[test]
fn no_module_reaches_back_through_the_crate_root() {
    let mut found = Vec::new();
    for src in source_roots() {
        for (module, imports) in import_graph(&src) {
            if !module.is_empty() && imports.contains(&Vec::new()) {
                found.push(format!("{}: {}", crate_dir(&src), name(&module)));
            }
        }
    }
    assert!(
        found.is_empty(),
        "modules importing their crate's root:\n{}",
        found.join("\n")
    );
}
