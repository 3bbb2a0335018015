//! Where the console links out: a commit and a comparison of two commits in the repository the
//! releases are built from (GitHub's or GitLab's addresses), and Rundeck's approve job with
//! the release filled in. Each is optional: without its setting the console shows the text
//! without a link.

use spin_edge::{encode_path_segment, encode_query_value};

/// How a repository host spells its commit and compare pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepositoryStyle {
    /// `…/commit/SHA`, `…/compare/A...B` (GitHub, Gitea, Forgejo).
    GitHub,
    /// `…/-/commit/SHA`, `…/-/compare/A...B`.
    GitLab,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links {
    /// The repository's web address, without a trailing slash, and its style.
    pub repository: Option<(String, RepositoryStyle)>,
    /// The approve-release job's page in Rundeck.
    pub rundeck_job: Option<String>,
}

impl Links {
    fn repository_page(&self, page: &str) -> Option<String> {
        let (base, style) = self.repository.as_ref()?;
        Some(match style {
            RepositoryStyle::GitHub => format!("{base}/{page}"),
            RepositoryStyle::GitLab => format!("{base}/-/{page}"),
        })
    }

    /// The commit's page.
    pub fn commit(&self, sha: &str) -> Option<String> {
        self.repository_page(&format!("commit/{}", encode_path_segment(sha)))
    }

    /// The changes from commit FROM to commit TO.
    pub fn compare(&self, from: &str, to: &str) -> Option<String> {
        let range = format!(
            "{}...{}",
            encode_path_segment(from),
            encode_path_segment(to)
        );
        self.repository_page(&format!("compare/{range}"))
    }

    /// Rundeck's approve job, its `version` option filled in (Rundeck fills a job's run form
    /// from `opt.NAME` parameters).
    pub fn decide(&self, version: &str) -> Option<String> {
        let job = self.rundeck_job.as_ref()?;
        Some(format!("{job}?opt.version={}", encode_query_value(version)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_host_spells_its_pages() {
        let github = Links {
            repository: Some((
                "https://github.com/acme/app".into(),
                RepositoryStyle::GitHub,
            )),
            rundeck_job: Some("https://rundeck.example.com/project/p/job/show/abc".into()),
        };
        assert_eq!(
            github.commit("0123abc").as_deref(),
            Some("https://github.com/acme/app/commit/0123abc")
        );
        assert_eq!(
            github.compare("aaa", "bbb").as_deref(),
            Some("https://github.com/acme/app/compare/aaa...bbb")
        );
        assert_eq!(
            github.decide("1.0.0+b").as_deref(),
            Some("https://rundeck.example.com/project/p/job/show/abc?opt.version=1.0.0%2Bb")
        );
        let gitlab = Links {
            repository: Some((
                "https://gitlab.com/acme/app".into(),
                RepositoryStyle::GitLab,
            )),
            rundeck_job: None,
        };
        assert_eq!(
            gitlab.compare("aaa", "bbb").as_deref(),
            Some("https://gitlab.com/acme/app/-/compare/aaa...bbb")
        );
        assert_eq!(gitlab.decide("1.0.0"), None);
        assert_eq!(Links::default().commit("aaa"), None);
    }
}
